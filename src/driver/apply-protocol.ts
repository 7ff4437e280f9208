/**
 * Messages between the driver and its conversion worker (apply-worker.ts).
 * The tar travels as transferred chunks; the worker acknowledges each chunk
 * it hands to the converter, and the driver keeps a bounded number of bytes
 * in flight — backpressure across the thread boundary.
 */
export interface ApplyWorkerData {
  outPath: string;
  maxDiskSizeBytes: number;
}

export type ToWorker = { t: 'chunk'; buf: Uint8Array } | { t: 'end' } | { t: 'abort'; message: string };

export type FromWorker =
  | { t: 'ack'; bytes: number }
  | { t: 'done'; sizeBytes: number }
  | { t: 'error'; name: string; code?: string; message: string; context?: Record<string, unknown> };
