/**
 * Messages between the driver and its conversion workers (apply-worker.ts).
 * A worker lives across layers and converts one at a time; every message
 * names its job, so anything left over from a job that was given up (a late
 * ack, a chunk in flight) is recognised and dropped. The tar travels as
 * transferred chunks; the worker acknowledges each chunk it hands to the
 * converter, and the driver keeps a bounded number of bytes in flight —
 * backpressure across the thread boundary.
 */
export interface ConvertJob {
  outPath: string;
  maxDiskSizeBytes: number;
}

export type ToWorker =
  | ({ t: 'start'; job: number } & ConvertJob)
  | { t: 'chunk'; job: number; buf: Uint8Array }
  | { t: 'end'; job: number }
  | { t: 'abort'; job: number; message: string };

export type FromWorker =
  | { t: 'ack'; job: number; bytes: number }
  | { t: 'done'; job: number; sizeBytes: number }
  | { t: 'error'; job: number; name: string; code?: string; message: string; context?: Record<string, unknown> };
