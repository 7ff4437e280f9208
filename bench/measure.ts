/** What the benches share: the median, and one process timed whole (wall here; CPU and peak RSS from /usr/bin/time). */
import { spawnSync } from 'node:child_process';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export interface ProcessSample {
  /** seconds */
  wall: number;
  /** seconds, user + sys */
  cpu: number;
  rssKiB: number;
  stdout: string;
}

/** Run argv under /usr/bin/time; a non-zero exit throws with its stderr. */
export function timeProcess(argv: string[], options: { cwd?: string } = {}): ProcessSample {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...argv], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const [user, sys, rss] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: user! + sys!, rssKiB: rss!, stdout: r.stdout.trim() };
}
