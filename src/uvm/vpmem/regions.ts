/**
 * The byte ranges of one shared VPMEM device (mapped VPMEM): which parts
 * hold a layer. First fit from the start of the device, page-aligned, the
 * way hcsshim packs layers (its pool allocator also hands out the lowest
 * offset that fits).
 */
export const PAGE_SIZE = 4096;

export function pageAlign(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

export class Regions {
  /** Taken ranges, sorted by offset: offset → size. */
  private readonly taken = new Map<number, number>();

  constructor(readonly deviceBytes: number) {}

  get count(): number {
    return this.taken.size;
  }

  /** The lowest page-aligned offset with room for `bytes` (rounded up to a page), now taken; undefined if none. */
  allocate(bytes: number): { offsetBytes: number; sizeBytes: number } | undefined {
    const size = pageAlign(bytes);
    let at = 0;
    for (const [offset, len] of [...this.taken].sort((x, y) => x[0] - y[0])) {
      if (offset - at >= size) break;
      at = offset + len;
    }
    if (at + size > this.deviceBytes) return undefined;
    this.taken.set(at, size);
    return { offsetBytes: at, sizeBytes: size };
  }

  release(offsetBytes: number): void {
    this.taken.delete(offsetBytes);
  }
}
