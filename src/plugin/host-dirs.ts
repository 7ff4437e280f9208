/**
 * The host directories `Get` answers with, one per got layer id, at
 * `<dirs root>/<id>` — the same path for every get of that id, as the Linux
 * daemon requires of a container ("returning inconsistent paths") — made at
 * the first get and removed at the last put:
 *
 * - a read-only layer: its files, materialised from the driver's host-side
 *   diff (materialise.ts), for `docker save` to read;
 * - a read-write layer: an empty drop box whose contents are carried into
 *   the layer through a service VM at the last put (carry.ts).
 *
 * Each directory is backed by a driver `get` (lazy: no VM until the carry
 * needs one), so the driver's own rules hold while the daemon has it: a got
 * layer, or a parent of one, cannot be removed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { asError, hostFsError } from '../errors.js';
import type { Logger } from '../log.js';
import { KeyedMutex } from '../driver/index.js';
import { carry, isEmptyDir, type PlaceTarget } from './carry.js';
import type { VerbContext } from './http-server.js';
import { materialise } from './materialise.js';
import type { Readable } from 'node:stream';

/** What the directories need of the driver. */
export interface HostDirsDriver {
  get(id: string): Promise<PlaceTarget>;
  put(id: string): Promise<void>;
  diff(id: string, parent?: string): Promise<Readable>;
  getMetadata(id: string): Promise<Record<string, string>>;
}

interface Held {
  count: number;
  dir: string;
  sandbox: boolean;
  handle: PlaceTarget;
}

export class HostDirs {
  private readonly held = new Map<string, Held>();
  private readonly ids = new KeyedMutex();

  constructor(
    private readonly driver: HostDirsDriver,
    /** Where the directories go; owned by these: emptied at start and at release. */
    readonly root: string,
    private readonly log: Logger,
  ) {}

  /** Empty the root (a previous server's directories: no get outlives the process that made it). */
  async reset(): Promise<void> {
    await fs.rm(this.root, { recursive: true, force: true });
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
  }

  async get(id: string, ctx: VerbContext): Promise<string> {
    return this.ids.run(id, async () => {
      const known = this.held.get(id);
      if (known) {
        known.count++;
        return known.dir;
      }
      const sandbox = (await this.driver.getMetadata(id)).kind === 'sandbox';
      const handle = await this.driver.get(id);
      const dir = path.join(this.root, id);
      try {
        await fs.rm(dir, { recursive: true, force: true });
        await fs.mkdir(dir, { mode: 0o755 });
        if (!sandbox) {
          const started = Date.now();
          const r = await materialise(await this.driver.diff(id), dir, this.log, () => {
            ctx.signal.throwIfAborted();
            ctx.touch();
          });
          this.log.info({ id, ...r, ms: Date.now() - started }, 'layer materialised for Get');
        }
      } catch (err) {
        await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
        await this.driver.put(id).catch((e: unknown) => this.log.warn({ err: asError(e), id }, 'put after a failed Get'));
        throw hostFsError(err, `Get ${id}: cannot make its host directory`, { id, dir });
      }
      this.held.set(id, { count: 1, dir, sandbox, handle });
      return dir;
    });
  }

  /** Undo one get; the last carries a drop box's contents into its layer, puts the layer and removes the directory. */
  async put(id: string): Promise<void> {
    await this.ids.run(id, async () => {
      const h = this.held.get(id);
      if (!h) return; // a put without get, as the driver's
      if (h.count > 1) {
        h.count--;
        return;
      }
      let carried: unknown;
      if (h.sandbox && !(await isEmptyDir(h.dir))) {
        const started = Date.now();
        try {
          const r = await carry(h.dir, h.handle, this.log);
          this.log.info({ id, ...r, ms: Date.now() - started }, 'Get directory carried into the layer');
        } catch (err) {
          carried = err;
        }
      }
      // The layer is put and the directory goes even when the carry failed: the daemon does not put twice.
      this.held.delete(id);
      await this.driver.put(id);
      await fs.rm(h.dir, { recursive: true, force: true });
      if (carried !== undefined) throw asError(carried);
    });
  }

  /** Give every directory back without carrying (the daemon is stopping; its puts came already or never will). */
  async releaseAll(): Promise<void> {
    for (const id of [...this.held.keys()]) {
      this.held.delete(id);
      await this.driver.put(id).catch((e: unknown) => this.log.warn({ err: asError(e), id }, 'put at cleanup'));
    }
    await fs.rm(this.root, { recursive: true, force: true });
  }
}
