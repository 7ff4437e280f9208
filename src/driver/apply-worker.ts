/**
 * Worker-thread entry: converts layer tars (arriving as messages, one job
 * at a time) into ext4 + VHD footer. A thread of its own so that a CPU-heavy
 * layer cannot stall the engine's event loop, and a crash in the converter
 * takes down this thread, not the engine. The thread stays up between
 * layers (apply-diff.ts reuses it): starting one costs more than converting
 * a small layer. A failed conversion is an answer, not a crash: the thread
 * stays usable. The converter writes to a temp name and renames on success,
 * so a failure leaves no output file.
 */
import { parentPort } from 'node:worker_threads';
import { convertTarToExt4 } from '../layer/index.js';
import { isLcowError } from '../errors.js';
import type { ConvertJob, FromWorker, ToWorker } from './apply-protocol.js';

const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);

/** The job being converted: its tar chunks as they arrive, and how it ends. */
class Job {
  readonly queue: Buffer[] = [];
  ended = false;
  abortMessage: string | undefined;
  wake: (() => void) | undefined;
  readonly controller = new AbortController();

  constructor(readonly id: number) {}

  async *chunks(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.abortMessage !== undefined) throw new Error(this.abortMessage);
      const next = this.queue.shift();
      if (next) {
        post({ t: 'ack', job: this.id, bytes: next.length });
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

let current: Job | undefined;

port.on('message', (m: ToWorker) => {
  if (m.t === 'start') {
    current = new Job(m.job);
    void convert(current, m);
    return;
  }
  const job = current;
  if (!job || job.id !== m.job) return; // a message for a job that is over
  if (m.t === 'chunk') job.queue.push(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength));
  else if (m.t === 'end') job.ended = true;
  else {
    job.abortMessage = m.message;
    job.controller.abort(new Error(m.message));
  }
  job.wake?.();
});

async function convert(job: Job, spec: ConvertJob): Promise<void> {
  try {
    const result = await convertTarToExt4(job.chunks(), spec.outPath, {
      whiteouts: true,
      vhdFooter: true,
      maxDiskSizeBytes: spec.maxDiskSizeBytes,
      signal: job.controller.signal,
    });
    post({ t: 'done', job: job.id, sizeBytes: result.sizeBytes });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({
      t: 'error',
      job: job.id,
      name: e.name,
      code: isLcowError(e) ? e.code : undefined,
      message: e.message,
      context: isLcowError(e) ? { ...e.context } : undefined,
    });
  } finally {
    if (current === job) current = undefined;
  }
}
