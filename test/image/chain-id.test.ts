import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainIds } from '../../src/image/index.js';

const sha = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

describe('chainIds', () => {
  it('follows the OCI definition', () => {
    const d = ['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64)];
    expect(chainIds(d)).toEqual([d[0], 'sha256:' + sha(`${d[0]} ${d[1]}`)]);
  });
});
