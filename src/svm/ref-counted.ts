/**
 * Shared resources ref-counted by key: the union mounts made in a service VM
 * (keyed by guest root). The first `acquire` of a key creates the resource,
 * later ones only count; the last `release` destroys it.
 *
 * This class does no locking of its own: the owner calls it with the entry's
 * per-VM lock held, and must not take that lock again inside `create` or
 * `destroy` — moby did in a rollback and deadlocked (moby#36113).
 */

interface Slot<H> {
  refCount: number;
  handle: H;
}

export class RefCountedResources<H> {
  private readonly slots = new Map<string, Slot<H>>();

  /** Count + 1 for a known key; otherwise `create` it (nothing is recorded when that fails). */
  async acquire(key: string, create: () => Promise<H>): Promise<H> {
    const slot = this.slots.get(key);
    if (slot) {
      slot.refCount++;
      return slot.handle;
    }
    const handle = await create();
    this.slots.set(key, { refCount: 1, handle });
    return handle;
  }

  /**
   * Count - 1; the last release destroys the resource. An unknown key is a
   * no-op (a put may run before the lazy get attached anything). The slot is
   * dropped even when `destroy` fails — keeping it (moby's way) leaves a
   * handle that a later release would free twice — and the error is thrown.
   */
  async release(key: string, destroy: (handle: H, key: string) => Promise<void>): Promise<void> {
    const slot = this.slots.get(key);
    if (!slot) return;
    if (slot.refCount > 1) {
      slot.refCount--;
      return;
    }
    this.slots.delete(key);
    await destroy(slot.handle, key);
  }

  refCount(key: string): number {
    return this.slots.get(key)?.refCount ?? 0;
  }

  get(key: string): H | undefined {
    return this.slots.get(key)?.handle;
  }

  keys(): string[] {
    return [...this.slots.keys()];
  }

  get size(): number {
    return this.slots.size;
  }
}
