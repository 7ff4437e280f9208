/**
 * Worker-thread entry: converts one layer tar (arriving as messages) into
 * ext4 + VHD footer at `outPath`. A thread of its own so that a CPU-heavy
 * layer cannot stall the engine's event loop, and a crash in the converter
 * takes down this thread, not the engine. The converter writes to a temp name
 * and renames on success, so a failure leaves no output file.
 */
import { Readable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { convertTarToExt4 } from '../layer/index.js';
import { isLcowError } from '../errors.js';
import type { ApplyWorkerData, FromWorker, ToWorker } from './apply-protocol.js';

const port = parentPort!;
const data = workerData as ApplyWorkerData;
const post = (m: FromWorker): void => port.postMessage(m);

const queue: Buffer[] = [];
let ended = false;
let abortMessage: string | undefined;
let wake: (() => void) | undefined;
const controller = new AbortController();

port.on('message', (m: ToWorker) => {
  if (m.t === 'chunk') queue.push(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength));
  else if (m.t === 'end') ended = true;
  else {
    abortMessage = m.message;
    controller.abort(new Error(m.message));
  }
  wake?.();
});

async function* chunks(): AsyncGenerator<Buffer> {
  for (;;) {
    if (abortMessage !== undefined) throw new Error(abortMessage);
    const next = queue.shift();
    if (next) {
      post({ t: 'ack', bytes: next.length });
      yield next;
      continue;
    }
    if (ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

try {
  const result = await convertTarToExt4(Readable.from(chunks(), { objectMode: false }), data.outPath, {
    whiteouts: true,
    vhdFooter: true,
    maxDiskSizeBytes: data.maxDiskSizeBytes,
    signal: controller.signal,
  });
  post({ t: 'done', sizeBytes: result.sizeBytes });
} catch (err) {
  const e = err instanceof Error ? err : new Error(String(err));
  post({
    t: 'error',
    name: e.name,
    code: isLcowError(e) ? e.code : undefined,
    message: e.message,
    context: isLcowError(e) ? { ...e.context } : undefined,
  });
} finally {
  port.close();
}
