/**
 * Runs in a child process under a heap cap (see run-verbs.ts): all five
 * host-side verbs on one image — diff, changes, diffSize, diffGetter and the
 * reader's walk() — each to its end or its error, and prints what each gave
 * as one JSON line. A hang shows as the parent's timeout, a heap past the cap
 * as V8's abort: neither prints a line.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { changes, diffSize } from '../../../../src/driver/host-diff/changes.js';
import { diffGetter } from '../../../../src/driver/host-diff/diff-getter.js';
import { layerToTar, sandboxToTar } from '../../../../src/driver/host-diff/to-tar.js';
import { isLcowError } from '../../../../src/errors.js';
import { openExt4Image } from '../../../../src/layer/index.js';
import type { VerbResults, VerbSpec, Outcome } from './run-verbs.js';

const spec = JSON.parse(process.argv[2]!) as VerbSpec;
let heapPeak = 0;
const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 20);

async function outcome<T>(fn: () => Promise<T>, verb?: NonNullable<VerbSpec['only']>[number]): Promise<Outcome<T>> {
  if (verb && spec.only && !spec.only.includes(verb)) return { ok: null as T, ms: 0 };
  const t = performance.now();
  try {
    const ok = await fn();
    return { ok, ms: performance.now() - t };
  } catch (err) {
    const e = err as Error;
    return { error: { name: e.name, code: isLcowError(err) ? err.code : undefined, message: e.message }, ms: performance.now() - t };
  }
}

/** Bytes and sha256 of a stream, at most `limit` bytes read; written to `file` when given. */
async function digest(stream: Readable, limit = Infinity, file?: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const out = file ? createWriteStream(file) : undefined;
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const part = chunk.subarray(0, Math.max(0, Math.min(chunk.length, limit - bytes)));
    hash.update(part);
    out?.write(part);
    bytes += part.length;
    if (bytes >= limit) break;
  }
  stream.destroy();
  if (out) await new Promise((resolve) => out.end(resolve));
  return { bytes, sha256: hash.digest('hex') };
}

const parents = spec.parents ?? [];
const results: VerbResults = {
  diff: await outcome(() => digest((spec.kind === 'sandbox' ? sandboxToTar : layerToTar)(spec.image), Infinity, spec.tarOut), 'diff'),
  changes: await outcome(() => changes(spec.image, parents, { kind: spec.kind }), 'changes'),
  diffSize: await outcome(() => diffSize(spec.image, parents, { kind: spec.kind }), 'diffSize'),
  diffGetter: await outcome(async () => {
    const g = await diffGetter(spec.image, { kind: spec.kind });
    try {
      const out: Array<Outcome<{ bytes: number; sha256: string }>> = [];
      for (const p of spec.gets ?? []) out.push(await outcome(async () => digest(await g.get(Buffer.from(p, 'hex')), spec.getLimit)));
      return out;
    } finally {
      await g.close();
    }
  }, 'diffGetter'),
  walk: await outcome(async () => {
    const img = await openExt4Image(spec.image);
    try {
      let entries = 0;
      for await (const _ of img.walk()) entries++;
      return entries;
    } finally {
      await img.close();
    }
  }, 'walk'),
  heapPeakMiB: 0,
};
clearInterval(sampler);
results.heapPeakMiB = Math.max(heapPeak, process.memoryUsage().heapUsed) / 2 ** 20;
process.stdout.write(JSON.stringify(results) + '\n');
