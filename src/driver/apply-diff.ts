/**
 * Layer conversion in worker threads that outlive a layer.
 *
 * Starting a worker thread and loading the converter into it costs more than
 * converting a small layer (measured from dist/: ~230 ms per applyDiff with a
 * worker per layer), so workers are kept: a p-queue bounds how many layers
 * convert at once, each running layer gets an idle worker or a new one, and a
 * worker idle for IDLE_MS goes away (unref'd meanwhile, so it never keeps an
 * engine's process alive). A worker that crashes fails only the layer it was
 * converting; the next layer gets a new worker. close() (the driver's
 * cleanup) ends every worker and fails what was in flight or queued.
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
import PQueue from 'p-queue';
import { LcowError, type LcowErrorCode } from '../errors.js';
import type { FromWorker, ToWorker } from './apply-protocol.js';

/** The reference's ceiling for one layer image (tar2ext4 MaximumDiskSize). */
export const MAX_LAYER_DISK_BYTES = 128 * 1024 ** 3;
/** Tar bytes handed to the worker but not yet taken by the converter (8 → 2 MiB: −9 MiB peak RSS, same time). */
const MAX_IN_FLIGHT = 2 * 1024 * 1024;
/** Tar bytes per message to the worker. */
const BATCH_BYTES = 256 * 1024;
/**
 * The worker's V8 young generation, in MiB. The converter's garbage is
 * short-lived (read slices, per-entry objects) while its live metadata
 * steadily survives scavenges, which makes V8 grow the young generation to
 * its maximum (tens of MiB) for nothing. Measured on a 393 MiB /usr tar:
 * whole-process peak RSS 152 MiB by default, 125 MiB with this at 1, time
 * unchanged. Per isolate, so the engine's own heap is untouched.
 */
const WORKER_YOUNG_GENERATION_MB = 1;
/** Layers converted at once by default: each takes a core while it runs. */
const DEFAULT_MAX_WORKERS = 2;
/** How long an idle worker is kept for the next layer (an image's layers arrive one after another). */
const DEFAULT_IDLE_MS = 30_000;

export interface ConvertInWorkerOptions {
  maxDiskSizeBytes?: number;
  signal?: AbortSignal;
}

export interface ConversionWorkersOptions {
  /** Layers converted at once (workers alive at most). Default 2. */
  maxWorkers?: number;
  /** An idle worker ends after this long. Default 30 s. */
  idleMs?: number;
  /** Called with each new worker thread (to observe it: logs, tests). */
  onSpawn?: (worker: Worker) => void;
}

function spawn(): Worker {
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./apply-worker.js', import.meta.url), { resourceLimits });
  const entry = new URL('./apply-worker.ts', import.meta.url).href;
  const tsxDir = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxDir, 'dist', 'esm', 'api', 'index.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, resourceLimits });
}

/** A worker kept between layers. */
interface Slot {
  worker: Worker;
  /** Set when it has crashed or was ended: never handed out again. */
  dead: boolean;
  idleTimer?: NodeJS.Timeout;
}

export class ConversionWorkers {
  private readonly queue: PQueue;
  private readonly idleMs: number;
  private readonly onSpawn: ((worker: Worker) => void) | undefined;
  private readonly idle: Slot[] = [];
  private readonly live = new Set<Slot>();
  private nextJob = 1;
  /** Bumped by close(): a job queued before it does not start after it. */
  private generation = 0;

  constructor(options: ConversionWorkersOptions = {}) {
    this.queue = new PQueue({ concurrency: Math.max(1, options.maxWorkers ?? DEFAULT_MAX_WORKERS) });
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.onSpawn = options.onSpawn;
  }

  /** Worker threads alive now (busy or idle). */
  get threads(): number {
    return this.live.size;
  }

  /** Convert `tar` into `outPath` (ext4 + fixed-VHD footer, whiteouts converted); resolves with the image size. */
  convert(tar: AsyncIterable<Uint8Array>, outPath: string, options: ConvertInWorkerOptions = {}): Promise<{ sizeBytes: number }> {
    const generation = this.generation;
    return this.queue.add(() => {
      if (generation !== this.generation) throw closedError(outPath);
      return this.run(this.take(), tar, outPath, options);
    });
  }

  /** End every worker now; conversions in flight or queued fail with ECANCELED. Later conversions start new workers. */
  async close(): Promise<void> {
    this.generation++;
    const slots = [...this.live];
    this.live.clear();
    this.idle.length = 0;
    await Promise.all(
      slots.map((s) => {
        s.dead = true;
        clearTimeout(s.idleTimer);
        return s.worker.terminate();
      }),
    );
  }

  private take(): Slot {
    const slot = this.idle.pop();
    if (slot) {
      clearTimeout(slot.idleTimer);
      slot.worker.ref();
      return slot;
    }
    const fresh: Slot = { worker: spawn(), dead: false };
    this.live.add(fresh);
    // A crash between layers: forget the worker (the next layer gets a new one).
    fresh.worker.on('error', () => this.retire(fresh));
    fresh.worker.on('exit', () => this.retire(fresh));
    this.onSpawn?.(fresh.worker);
    return fresh;
  }

  private giveBack(slot: Slot): void {
    if (slot.dead) return;
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(slot);
      if (i >= 0) this.idle.splice(i, 1);
      this.retire(slot);
      void slot.worker.terminate();
    }, this.idleMs);
    slot.idleTimer.unref();
    this.idle.push(slot);
  }

  private retire(slot: Slot): void {
    slot.dead = true;
    clearTimeout(slot.idleTimer);
    this.live.delete(slot);
    const i = this.idle.indexOf(slot);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private async run(slot: Slot, tar: AsyncIterable<Uint8Array>, outPath: string, options: ConvertInWorkerOptions): Promise<{ sizeBytes: number }> {
    const { worker } = slot;
    const job = this.nextJob++;
    let inFlight = 0;
    let drained: (() => void) | undefined;
    let settled = false;
    const send = (m: ToWorker, transfer?: ArrayBuffer[]) => {
      if (!settled) worker.postMessage(m, transfer);
    };

    let onMessage!: (m: FromWorker) => void;
    let onError!: (err: Error) => void;
    let onExit!: (code: number) => void;
    const outcome = new Promise<{ sizeBytes: number }>((resolve, reject) => {
      onMessage = (m) => {
        if (m.job !== job) return;
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
      };
      onError = (err) => {
        settled = true;
        drained?.();
        reject(new LcowError('EIO', `layer conversion worker crashed: ${err.message}`, { outPath }, { cause: err }));
      };
      onExit = (code) => {
        if (settled) return;
        settled = true;
        drained?.();
        if (slot.dead && !this.live.has(slot) && code === 1) reject(closedError(outPath));
        else reject(new LcowError('EIO', `layer conversion worker exited (${code}) before finishing`, { outPath }));
      };
    });
    outcome.catch(() => undefined); // observed below; avoid an unhandled rejection while still feeding
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);

    let batch = new Uint8Array(BATCH_BYTES);
    let batchUsed = 0;
    const flush = () => {
      if (batchUsed === 0) return;
      const full = batchUsed === BATCH_BYTES ? batch : batch.slice(0, batchUsed);
      inFlight += batchUsed;
      send({ t: 'chunk', job, buf: full }, [full.buffer]);
      batch = new Uint8Array(BATCH_BYTES);
      batchUsed = 0;
    };

    const onAbort = () => send({ t: 'abort', job, message: 'applyDiff aborted' });
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      send({ t: 'start', job, outPath, maxDiskSizeBytes: options.maxDiskSizeBytes ?? MAX_LAYER_DISK_BYTES });
      // Stop reading as soon as the worker has answered (or died), even from a stalled input.
      const answered = outcome.then(
        () => ANSWERED,
        () => ANSWERED,
      );
      const input = tar[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = input.next();
          next.catch(() => undefined); // when the answer wins the race, a later failure of the input is nobody's business
          const r = await Promise.race([next, answered]);
          if (typeof r === 'symbol') {
            void Promise.resolve(input.return?.()).catch(() => undefined);
            break;
          }
          if (r.done) break;
          // Copied into a batch of our own (stream chunks may share a pool; ours is transferable).
          // Batches, not chunks, cross the thread boundary: a registry stream's 16-64 KiB chunks
          // one message each cost more in wake-ups than the copy does.
          let at = 0;
          while (at < r.value.byteLength) {
            const n = Math.min(r.value.byteLength - at, BATCH_BYTES - batchUsed);
            batch.set(r.value.subarray(at, at + n), batchUsed);
            batchUsed += n;
            at += n;
            if (batchUsed === BATCH_BYTES) flush();
          }
          while (inFlight > MAX_IN_FLIGHT && !settled) await new Promise<void>((r) => (drained = r));
        }
        flush();
        send({ t: 'end', job });
      } catch (err) {
        send({ t: 'abort', job, message: `reading the layer tar failed: ${(err as Error).message}` });
        await outcome.catch(() => undefined);
        // A typed error from the source (e.g. EBADIMAGE from a digest check) keeps its code.
        if (err instanceof LcowError) throw err;
        throw new LcowError('EIO', 'reading the layer tar failed', { outPath }, { cause: err });
      }
      return await outcome;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      // The worker answered (done or a conversion error): it is fine for the next layer.
      if (settled && !slot.dead) this.giveBack(slot);
      else if (!slot.dead) {
        this.retire(slot);
        void worker.terminate();
      }
    }
  }
}

const ANSWERED = Symbol('answered');

function closedError(outPath: string): LcowError {
  return new LcowError('ECANCELED', 'layer conversion stopped: the driver was cleaned up', { outPath });
}

/** Convert one layer in a worker of its own, ended afterwards (for one-off conversions outside a driver). */
export async function convertInWorker(tar: AsyncIterable<Uint8Array>, outPath: string, options: ConvertInWorkerOptions = {}): Promise<{ sizeBytes: number }> {
  const workers = new ConversionWorkers({ maxWorkers: 1 });
  try {
    return await workers.convert(tar, outPath, options);
  } finally {
    await workers.close();
  }
}
