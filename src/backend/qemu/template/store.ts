/**
 * Templates on disk: `<cache>/templates/<key>/` holding `state` (device
 * state, ~0.5–1.5 MiB), `ram` (the guest's RAM, sparse: its size is the VM's
 * memory, its blocks what the guest touched by the time it was ready) and
 * `meta.json` (written last).
 *
 * - A template is built in `<key>.tmp-<pid>-<random>/` and renamed into
 *   place, under an exclusive kernel lock on `<key>.flock` (file-lock.ts), so
 *   two processes never both build one and nobody sees half a template. The
 *   lock goes with its process, however that ends; temp folders left by a
 *   dead builder are removed by the next one. The builder removes the lock
 *   file while it still holds it, so the cache keeps only template folders.
 * - `acquire` never fails: any problem (stale, corrupt, a build that failed)
 *   is a warning and `undefined` — the caller boots cold.
 * - At most `keep` templates stay: after a build the least recently used
 *   (folder mtime, touched at each use) beyond that are removed, each under
 *   its own lock (one being built elsewhere is skipped). A VM running from a
 *   removed template keeps its private mapping of the RAM file.
 * - `discard` removes a template that failed to restore, unless it was
 *   already replaced by a newer build (buildId), so the next start rebuilds.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LcowError, asError } from '../../../errors.js';
import { componentLogger, type Logger } from '../../../log.js';
import { tryLockFile, type FileLock } from '../../../file-lock.js';
import { fileIdentity } from '../file-identity.js';
import { fileSha256 } from './inputs.js';
import {
  TEMPLATE_FILES,
  judgeTemplate,
  templateDir,
  templateKey,
  type FoundTemplate,
  type TemplateInputs,
  type TemplateMeta,
  type TemplateShape,
} from './key.js';

export interface TemplateFiles {
  dir: string;
  statePath: string;
  ramPath: string;
  buildId: string;
}

/** How a shape's template is checked and made (the backend's VMs; fakes in tests). */
export interface TemplateRecipe {
  /** The current inputs (boot files' hashes, QEMU version, accelerator). */
  inputs(): Promise<TemplateInputs>;
  /** Boot a VM of the shape with its RAM in `ramPath` (shared), save its state to `statePath` once ready, stop it. */
  build(files: { ramPath: string; statePath: string }): Promise<void>;
}

export interface TemplateStoreOptions {
  cacheRoot: string;
  logger?: Logger;
  /**
   * Templates kept in the cache (default 8): after a build, the least
   * recently used beyond this are removed (each is ~100–200 MiB on disk).
   */
  keep?: number;
  /** How long to wait for another process's build (default 5 min). */
  lockWaitMs?: number;
}

async function sizeOf(p: string): Promise<number | undefined> {
  return stat(p).then(
    (s) => s.size,
    () => undefined,
  );
}

/** A template folder's meta.json: undefined when missing, null when present but unreadable (corrupt). */
function readMeta(dir: string): Promise<unknown> {
  return readFile(path.join(dir, TEMPLATE_FILES.meta), 'utf8').then(
    (t) => {
      try {
        return JSON.parse(t) as unknown;
      } catch {
        return null;
      }
    },
    () => undefined,
  );
}

/** What is on disk in a template folder (the state file's hash remembered while the file is unchanged: checked at every VM start). */
export async function readTemplate(dir: string): Promise<FoundTemplate> {
  const statePath = path.join(dir, TEMPLATE_FILES.state);
  return {
    meta: await readMeta(dir),
    stateBytes: await sizeOf(statePath),
    ramBytes: await sizeOf(path.join(dir, TEMPLATE_FILES.ram)),
    ramIdentity: await fileIdentity(path.join(dir, TEMPLATE_FILES.ram), { device: false }),
    stateSha256: await fileSha256(statePath).catch(() => undefined),
  };
}

function filesOf(dir: string, buildId: string): TemplateFiles {
  return { dir, statePath: path.join(dir, TEMPLATE_FILES.state), ramPath: path.join(dir, TEMPLATE_FILES.ram), buildId };
}

export class TemplateStore {
  private readonly log: Logger;
  /** Builds in flight in this process, by key. */
  private readonly building = new Map<string, Promise<TemplateFiles | undefined>>();

  constructor(private readonly deps: TemplateStoreOptions) {
    this.log = componentLogger(deps.logger, 'qemu-template');
  }

  /** A template ready to restore for this shape, built now if needed; undefined means boot cold. */
  async acquire(shape: TemplateShape, recipe: TemplateRecipe): Promise<TemplateFiles | undefined> {
    const key = templateKey(shape);
    try {
      const inputs = await recipe.inputs();
      const ready = await this.check(key, shape, inputs, true);
      if (ready) return ready;
      let build = this.building.get(key);
      if (!build) {
        build = this.buildLocked(key, shape, inputs, recipe).finally(() => this.building.delete(key));
        this.building.set(key, build);
      }
      return await build;
    } catch (err) {
      this.log.warn({ err: asError(err), key }, 'no VM template: cold boot');
      return undefined;
    }
  }

  /** A template that failed to restore: log it and remove it (unless already rebuilt), so the next start rebuilds. */
  async discard(files: TemplateFiles, why: unknown): Promise<void> {
    this.log.warn({ err: asError(why), dir: files.dir }, 'VM template failed to restore: cold boot; it will be rebuilt');
    try {
      const meta = (await readMeta(files.dir)) as Partial<TemplateMeta> | null | undefined;
      if (meta && meta.buildId !== files.buildId) return;
      await rm(files.dir, { recursive: true, force: true });
    } catch (err) {
      this.log.warn({ err: asError(err), dir: files.dir }, 'could not remove a bad VM template');
    }
  }

  /** The usable template for `key`, or undefined (logging why, when `warn` and it is not merely missing). */
  private async check(key: string, shape: TemplateShape, inputs: TemplateInputs, warn: boolean): Promise<TemplateFiles | undefined> {
    const dir = templateDir(this.deps.cacheRoot, key);
    const verdict = judgeTemplate(await readTemplate(dir), key, shape, inputs);
    if (verdict.use) {
      // the folder's mtime is its last use, for pruning
      const now = new Date();
      await utimes(dir, now, now).catch(() => undefined);
      return filesOf(dir, verdict.meta.buildId);
    }
    if (warn && verdict.reason !== 'missing') this.log.warn({ key, reason: verdict.reason, detail: verdict.detail }, 'VM template unusable: rebuilding it');
    return undefined;
  }

  private async buildLocked(key: string, shape: TemplateShape, inputs: TemplateInputs, recipe: TemplateRecipe): Promise<TemplateFiles | undefined> {
    const dir = templateDir(this.deps.cacheRoot, key);
    await mkdir(path.dirname(dir), { recursive: true });
    const lock = await this.lock(`${dir}.flock`);
    try {
      // another process may have built it while we waited
      const ready = await this.check(key, shape, inputs, false);
      if (ready) return ready;
      await this.removeLeftovers(dir);
      const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        await mkdir(tmp);
        const files = filesOf(tmp, randomBytes(8).toString('hex'));
        const t0 = Date.now();
        await recipe.build(files);
        const found = await readTemplate(tmp);
        if (found.stateBytes === undefined || found.ramBytes === undefined || !found.ramIdentity || found.stateSha256 === undefined) {
          throw new LcowError('EIO', 'the template build left no state or RAM file', { dir: tmp });
        }
        const meta: TemplateMeta = {
          key,
          shape,
          inputs,
          buildId: files.buildId,
          stateBytes: found.stateBytes,
          stateSha256: found.stateSha256,
          ramBytes: found.ramBytes,
          ramIdentity: found.ramIdentity, // rename() below keeps the inode and mtime
          builtAt: new Date().toISOString(),
          buildMs: Date.now() - t0,
        };
        await writeFile(path.join(tmp, TEMPLATE_FILES.meta), JSON.stringify(meta, null, 2));
        // Running clones keep their private mappings of an old RAM file: removing it is safe.
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
        this.log.info({ key, dir, buildMs: meta.buildMs, stateBytes: meta.stateBytes }, 'VM template built');
        await this.prune(key);
        return filesOf(dir, files.buildId);
      } finally {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      }
    } finally {
      await lock.release({ unlink: true });
    }
  }

  /** Remove the least recently used templates beyond `keep` (never `current`, never one being built). */
  private async prune(current: string): Promise<void> {
    const root = path.dirname(templateDir(this.deps.cacheRoot, current));
    const names = await readdir(root).catch(() => [] as string[]);
    const used: { name: string; mtimeMs: number }[] = [];
    for (const name of names) {
      if (!/^[0-9a-f]{24}$/.test(name) || name === current) continue;
      const st = await stat(path.join(root, name)).catch(() => undefined);
      if (st) used.push({ name, mtimeMs: st.mtimeMs });
    }
    used.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const { name } of used.slice(Math.max(0, (this.deps.keep ?? 8) - 1))) {
      // Under its build lock: a template another process is rebuilding right now stays.
      const lock = await tryLockFile(path.join(root, `${name}.flock`), 'VM template lock').catch(() => 'busy' as const);
      if (lock === 'busy') continue;
      try {
        this.log.info({ key: name }, 'removing a least recently used VM template');
        await rm(path.join(root, name), { recursive: true, force: true }).catch(() => undefined);
      } finally {
        await lock.release({ unlink: true });
      }
    }
  }

  /** Temp folders of this key left by a builder that died (we hold the lock: nobody else is building). */
  private async removeLeftovers(dir: string): Promise<void> {
    const prefix = `${path.basename(dir)}.tmp-`;
    for (const name of await readdir(path.dirname(dir)).catch(() => [] as string[])) {
      if (name.startsWith(prefix)) await rm(path.join(path.dirname(dir), name), { recursive: true, force: true });
    }
  }

  /** The build lock of a template: waits (polling) while another process or another store in this one holds it. */
  private async lock(lockFile: string): Promise<FileLock> {
    const deadline = Date.now() + (this.deps.lockWaitMs ?? 300_000);
    for (;;) {
      const lock = await tryLockFile(lockFile, 'VM template lock');
      if (lock !== 'busy') return lock;
      if (Date.now() >= deadline) throw new LcowError('ETIMEOUT', `timed out waiting for ${lockFile}`, { lockFile });
      await sleep(100);
    }
  }
}
