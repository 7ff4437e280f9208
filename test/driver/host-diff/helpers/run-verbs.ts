/**
 * All five host-side verbs on one image, in a child process with a capped
 * V8 heap and a wall-clock limit: the proof that a hostile image cannot make
 * the host run out of memory or time (see verbs-child.ts for what runs).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Change } from '../../../../src/driver/host-diff/changes.js';

export interface VerbSpec {
  image: string;
  kind: 'layer' | 'sandbox';
  parents?: string[];
  /** Paths for diffGetter, as hex of their bytes. */
  gets?: string[];
  /** Bytes read per get at most (a 1 TiB file is not read to its end). */
  getLimit?: number;
  /** Write the diff tar here. */
  tarOut?: string;
  /** Only these verbs (default: all five); the others report { ok: null }. */
  only?: Array<'diff' | 'changes' | 'diffSize' | 'diffGetter' | 'walk'>;
}

export type Outcome<T> = { ok: T; ms: number } | { error: { name: string; code: string | undefined; message: string }; ms: number };

export interface VerbResults {
  diff: Outcome<{ bytes: number; sha256: string }>;
  changes: Outcome<Change[]>;
  diffSize: Outcome<number>;
  diffGetter: Outcome<Array<Outcome<{ bytes: number; sha256: string }>>>;
  walk: Outcome<number>;
  heapPeakMiB: number;
}

const repo = resolve(import.meta.dirname, '../../../..');
const child = resolve(import.meta.dirname, 'verbs-child.ts');

/** Run the verbs with the old-space heap capped at `heapMiB`; throws if the child dies, hangs past `timeoutMs`, or prints nothing. */
export function runVerbs(spec: VerbSpec, heapMiB = 64, timeoutMs = 60_000): VerbResults {
  const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMiB}`, '--import', 'tsx', child, JSON.stringify(spec)], {
    cwd: repo,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`verbs on ${spec.image}: ${r.error.message} (a hang?)`, { cause: r.error });
  if (r.status !== 0) throw new Error(`verbs on ${spec.image}: exit ${r.status} ${r.signal ?? ''}\n${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as VerbResults;
}

export const hexPath = (p: string | Buffer): string => (typeof p === 'string' ? Buffer.from(p) : p).toString('hex');
