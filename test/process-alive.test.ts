import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processAlive } from '../src/process-alive.js';

describe('processAlive', () => {
  it('is true for this process and for pid 1 (when not root, kill answers EPERM for it: alive all the same)', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(1)).toBe(true);
  });

  it('is false for a process that has exited and been reaped', () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    expect(processAlive(Number(child.stdout))).toBe(false);
  });
});
