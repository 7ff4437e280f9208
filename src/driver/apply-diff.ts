/**
 * Run the tar → ext4 converter in a worker thread and feed it the tar.
 *
 * From the build the worker is the compiled apply-worker.js beside this file.
 * From .ts sources (vitest, tsx) it is apply-worker.ts and needs tsx's loader
 * in the worker. On Node 20 `execArgv: ['--import', 'tsx']` does not reach a
 * worker's entry module (measured: "Unknown file extension .ts"), so the
 * worker starts from a two-line bootstrap that registers tsx's ESM hooks
 * (tsx/esm/api) and then imports the .ts entry.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LcowError, type LcowErrorCode } from '../errors.js';
import type { ApplyWorkerData, FromWorker, ToWorker } from './apply-protocol.js';

/** The reference's ceiling for one layer image (tar2ext4 MaximumDiskSize). */
export const MAX_LAYER_DISK_BYTES = 128 * 1024 ** 3;
/** Tar bytes handed to the worker but not yet taken by the converter (8 → 2 MiB: −9 MiB peak RSS, same time). */
const MAX_IN_FLIGHT = 2 * 1024 * 1024;
/**
 * The worker's V8 young generation, in MiB. The converter's garbage is
 * short-lived (read slices, per-entry objects) while its live metadata
 * steadily survives scavenges, which makes V8 grow the young generation to
 * its maximum (tens of MiB) for nothing. Measured on a 393 MiB /usr tar:
 * whole-process peak RSS 152 MiB by default, 125 MiB with this at 1, time
 * unchanged. Per isolate, so the engine's own heap is untouched.
 */
const WORKER_YOUNG_GENERATION_MB = 1;

export interface ConvertInWorkerOptions {
  maxDiskSizeBytes?: number;
  signal?: AbortSignal;
}

function spawn(data: ApplyWorkerData): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./apply-worker.js', import.meta.url), { workerData: data, resourceLimits });
  const entry = new URL('./apply-worker.ts', import.meta.url).href;
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}

/** Convert `tar` into `outPath` (ext4 + fixed-VHD footer); resolves with the image size. */
export async function convertInWorker(tar: AsyncIterable<Uint8Array>, outPath: string, options: ConvertInWorkerOptions = {}): Promise<{ sizeBytes: number }> {
  const worker = spawn({ outPath, maxDiskSizeBytes: options.maxDiskSizeBytes ?? MAX_LAYER_DISK_BYTES });
  let inFlight = 0;
  let drained: (() => void) | undefined;
  let settled = false;
  const send = (m: ToWorker, transfer?: ArrayBuffer[]) => {
    if (!settled) worker.postMessage(m, transfer);
  };

  const outcome = new Promise<{ sizeBytes: number }>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'ack') {
        inFlight -= m.bytes;
        if (inFlight <= MAX_IN_FLIGHT) drained?.();
      } else if (m.t === 'done') {
        settled = true;
        resolve({ sizeBytes: m.sizeBytes });
      } else {
        settled = true;
        const code = (m.code ?? 'EIO') as LcowErrorCode;
        reject(new LcowError(code, m.message, { ...(m.context ?? {}), worker: true }));
      }
      if (settled) drained?.();
    });
    worker.on('error', (err) => {
      settled = true;
      drained?.();
      reject(new LcowError('EIO', `layer conversion worker crashed: ${err.message}`, { outPath }, { cause: err }));
    });
    worker.on('exit', (code) => {
      if (settled) return;
      settled = true;
      drained?.();
      reject(new LcowError('EIO', `layer conversion worker exited (${code}) before finishing`, { outPath }));
    });
  });
  outcome.catch(() => undefined); // observed below; avoid an unhandled rejection while still feeding

  const onAbort = () => send({ t: 'abort', message: 'applyDiff aborted' });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of tar) {
      if (settled) break; // the worker failed or finished early: stop reading
      const copy = new Uint8Array(chunk); // own buffer, transferable (stream chunks may share a pool)
      inFlight += copy.byteLength;
      send({ t: 'chunk', buf: copy }, [copy.buffer]);
      while (inFlight > MAX_IN_FLIGHT && !settled) await new Promise<void>((r) => (drained = r));
    }
    send({ t: 'end' });
  } catch (err) {
    send({ t: 'abort', message: `reading the layer tar failed: ${(err as Error).message}` });
    await outcome.catch(() => undefined);
    // A typed error from the source (e.g. EBADIMAGE from a digest check) keeps its code.
    if (err instanceof LcowError) throw err;
    throw new LcowError('EIO', 'reading the layer tar failed', { outPath }, { cause: err });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  try {
    return await outcome;
  } finally {
    await worker.terminate();
  }
}
