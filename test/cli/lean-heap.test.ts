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

/** V8's hash of its flags (part of cachedDataVersionTag) in a child that ran `setup` first. */
function flagTag(setup: string): string {
  const script = `${setup}
process.stdout.write(String((await import('node:v8')).cachedDataVersionTag()));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, LCOW_V8_DEFAULTS: undefined },
  });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('preferSmallHeap', () => {
  it("sets the flags through Node's v8 binding with the effect node:v8 would have, and no deprecation warning", () => {
    const leanHeap = JSON.stringify(resolve(repo, 'src/cli/lean-heap.ts'));
    const viaBinding = flagTag(
      `const m = await import(${leanHeap}); if (m.v8FlagSetter().via !== 'binding') throw new Error('not via the binding'); m.preferSmallHeap();`,
    );
    const viaModule = flagTag(
      `const v8 = await import('node:v8'); for (const f of ['--semi-space-growth-factor=1', '--no-turbofan', '--liftoff-only']) v8.setFlagsFromString(f);`,
    );
    expect(viaBinding).toBe(viaModule);
    expect(viaBinding).not.toBe(flagTag(''));
  }, 60_000);

  it('sets flags this V8 knows (nothing on stderr)', () => {
    expect(run({})).toEqual({ out: 'true', err: '' });
  }, 60_000);
  it('LCOW_V8_DEFAULTS=1 leaves V8 alone', () => {
    expect(run({ LCOW_V8_DEFAULTS: '1' })).toEqual({ out: 'false', err: '' });
  }, 60_000);
});
