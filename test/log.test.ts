/**
 * The library is silent by default and does not even load pino for that
 * (it costs ~8 MiB RSS, measured); with LCOW_LOG_LEVEL set it logs through
 * pino to stderr. Any pino logger passed in is used as is.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { componentLogger, silentLogger, type Logger } from '../src/log.js';

const repo = resolve(import.meta.dirname, '..');

/** Run a snippet against src/log.ts in a fresh process; returns its stdout (JSON) and stderr. */
function probe(env: Record<string, string | undefined>): { out: { pinoLoaded: boolean; isSilent: boolean }; stderr: string } {
  const script = `
import { createRequire } from 'node:module';
const { componentLogger, silentLogger } = await import(${JSON.stringify(resolve(repo, 'src/log.ts'))});
const log = componentLogger(undefined, 'probe', { layerId: 'abc' });
log.info({ n: 1 }, 'hello from the probe');
const cache = createRequire(process.cwd() + '/x.js').cache;
const pinoLoaded = Object.keys(cache).some((k) => k.includes('/node_modules/pino/'));
process.stdout.write(JSON.stringify({ pinoLoaded, isSilent: log === silentLogger }));
`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, LCOW_LOG_LEVEL: undefined, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return { out: JSON.parse(r.stdout), stderr: r.stderr };
}

describe('logging', () => {
  it('is silent by default and does not load pino', () => {
    const { out, stderr } = probe({});
    expect(out).toEqual({ pinoLoaded: false, isSilent: true });
    expect(stderr).not.toContain('hello from the probe');
  }, 60_000);

  it('logs JSON lines to stderr through pino when LCOW_LOG_LEVEL is set', () => {
    const { out, stderr } = probe({ LCOW_LOG_LEVEL: 'info' });
    expect(out).toEqual({ pinoLoaded: true, isSilent: false });
    const line = JSON.parse(stderr.split('\n').find((l) => l.includes('hello from the probe'))!);
    expect(line).toMatchObject({ level: 30, component: 'probe', layerId: 'abc', n: 1, msg: 'hello from the probe' });
  }, 60_000);

  it('uses a caller’s pino logger, with the component bindings', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const mine: Logger = pino({ level: 'debug' }, sink);
    componentLogger(mine, 'uvm', { vmId: 'v1' }).debug('attached');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 20, component: 'uvm', vmId: 'v1', msg: 'attached' });
  });

  it('the silent logger is its own child and ignores everything', () => {
    expect(silentLogger.child({ a: 1 })).toBe(silentLogger);
    expect(() => silentLogger.error(new Error('x'), 'nothing happens')).not.toThrow();
  });
});
