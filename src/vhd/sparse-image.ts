/**
 * A disk image described by its non-zero parts: `size` bytes in all, zero
 * everywhere except the listed runs. The empty-ext4 formatter produces one (a
 * 20 GB sandbox is a few MiB of metadata), the VHDX writer consumes one so
 * that only those blocks are allocated.
 */
export interface SparseImage {
  /** Total size in bytes (a multiple of 4096). */
  size: number;
  /** Non-overlapping runs in ascending offset order. */
  runs: Array<{ offset: number; data: Buffer }>;
}
