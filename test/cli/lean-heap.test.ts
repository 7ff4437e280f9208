/**
 * The V8 flags `lcow convert` sets for itself exist in this Node (an unknown
 * flag would print "unrecognized flag" on every conversion), and
 * LCOW_V8_DEFAULTS=1 leaves V8 alone. Run in a child: the flags are process-wide.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');

function run(env: Record<string, string | undefined>): { out: string; err: string } {
  const script = `
const { preferSmallHeap } = await import(${JSON.stringify(resolve(repo, 'src/cli/lean-heap.ts'))});
process.stdout.write(String(preferSmallHeap()));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, LCOW_V8_DEFAULTS: undefined, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return { out: r.stdout, err: r.stderr };
}

describe('preferSmallHeap', () => {
  it('sets flags this V8 knows (nothing on stderr)', () => {
    expect(run({})).toEqual({ out: 'true', err: '' });
  }, 60_000);
  it('LCOW_V8_DEFAULTS=1 leaves V8 alone', () => {
    expect(run({ LCOW_V8_DEFAULTS: '1' })).toEqual({ out: 'false', err: '' });
  }, 60_000);
});
