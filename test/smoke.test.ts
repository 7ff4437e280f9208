import { describe, it, expect } from 'vitest';
import { LcowError, isLcowError } from '../src/errors.js';
describe('errors', () => {
  it('carries a code and context', () => {
    const e = new LcowError('ENOSLOT', 'no slot', { controller: 3 });
    expect(isLcowError(e, 'ENOSLOT')).toBe(true);
    expect(e.context.controller).toBe(3);
  });
});
