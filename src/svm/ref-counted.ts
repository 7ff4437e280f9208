/**
 * A set of shared resources ref-counted by key: the disks attached to a
 * service VM (keyed by host path) and the union mounts made in it (keyed by
 * name). The first `acquire` of a key creates the resource, later ones only
 * count; the last `release` destroys it.
 *
 * This class does no locking of its own: the owner (a ServiceVmEntry) calls
 * it with its per-VM lock held. `acquireAll` rolls back through the same
 * unlocked path — moby re-took the VM lock in its rollback and deadlocked
 * (moby#36113).
 */
import { asError } from '../errors.js';

interface Slot<H> {
  refCount: number;
  handle: H;
}

export class RefCountedResources<H> {
  readonly #slots = new Map<string, Slot<H>>();

  /** Count + 1 for a known key; otherwise `create` it (nothing is recorded when that fails). */
  async acquire(key: string, create: () => Promise<H>): Promise<H> {
    const slot = this.#slots.get(key);
    if (slot) {
      slot.refCount++;
      return slot.handle;
    }
    const handle = await create();
    this.#slots.set(key, { refCount: 1, handle });
    return handle;
  }

  /**
   * Acquire several keys in order; if one fails, release the ones this call
   * took (in reverse) and rethrow the first error.
   */
  async acquireAll(
    items: ReadonlyArray<{ key: string; create: () => Promise<H> }>,
    destroy: (handle: H, key: string) => Promise<void>,
    onRollbackError: (err: Error, key: string) => void = () => undefined,
  ): Promise<H[]> {
    const taken: H[] = [];
    for (const [i, item] of items.entries()) {
      try {
        taken.push(await this.acquire(item.key, item.create));
      } catch (err) {
        for (const done of items.slice(0, i).reverse()) {
          // The caller gets the error that made us roll back; a rollback failure is
          // reported beside it (logged by the owner), never dropped silently.
          await this.release(done.key, destroy).catch((e: unknown) => onRollbackError(asError(e), done.key));
        }
        throw err;
      }
    }
    return taken;
  }

  /**
   * Count - 1; the last release destroys the resource. An unknown key is a
   * no-op (a put may run before the lazy get attached anything). The slot is
   * dropped even when `destroy` fails — keeping it (moby's way) leaves a
   * handle that a later release would free twice — and the error is thrown.
   */
  async release(key: string, destroy: (handle: H, key: string) => Promise<void>): Promise<void> {
    const slot = this.#slots.get(key);
    if (!slot) return;
    if (slot.refCount > 1) {
      slot.refCount--;
      return;
    }
    this.#slots.delete(key);
    await destroy(slot.handle, key);
  }

  refCount(key: string): number {
    return this.#slots.get(key)?.refCount ?? 0;
  }

  get(key: string): H | undefined {
    return this.#slots.get(key)?.handle;
  }

  keys(): string[] {
    return [...this.#slots.keys()];
  }

  get size(): number {
    return this.#slots.size;
  }
}
