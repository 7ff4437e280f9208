// Runs examples/many-layers.ts (127 converted layers in one union) and checks
// what it prints: every layer placed, the mount data within one page, the
// overlay rules resolved by the guest kernel, and nothing left afterwards.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('examples/many-layers.ts', () => {
  it('mounts 127 layers in one union and resolves them', async () => {
    const { stdout } = await run('npx', ['tsx', 'examples/many-layers.ts'], { maxBuffer: 16 << 20 });
    const [, vpmem, scsi] = /^layers: 127 \(vpmem (\d+), scsi (\d+)\)$/m.exec(stdout) ?? [];
    expect(Number(vpmem) + Number(scsi)).toBe(127);
    const [, bytes] = /^overlay mount data: (\d+) bytes \(limit 4095\)$/m.exec(stdout) ?? [];
    expect(Number(bytes)).toBeGreaterThan(127 * 8);
    expect(Number(bytes)).toBeLessThanOrEqual(4095);
    expect(stdout).toContain('/who: layer 0\n');
    expect(stdout).toContain('/base-only: from the bottom layer\n');
    expect(stdout).toMatch(/^\/doomed\.txt: \(missing: exit \d+\)$/m);
    expect(stdout).toContain('entries in /layers: 127\n');
    expect(stdout).toContain('mounts left: 0, scsi devices left: 0\n');
    expect(stdout).toMatch(/^timings \(ms\): convert=\d+ boot=\d+ mount=\d+ teardown=\d+ terminate=\d+$/m);
  }, 1_800_000);
});
