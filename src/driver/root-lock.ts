/**
 * One opener of a data root at a time: an exclusive kernel lock on
 * `cache/root.lock`, taken by `LcowDriver.open` and given back by `cleanup`.
 * Another opener — another process (a CLI call beside an engine), or a
 * second LcowDriver in this one — gets EBUSY naming the holder's pid, and
 * touches nothing.
 *
 * Why one opener rather than cleanup that skips live work directories: what
 * keeps a root consistent lives in the opener's memory — the per-id locks,
 * the get/put counts that make `remove` of a mounted layer and `diff` of a
 * mounted sandbox EBUSY, the service VMs and what they have attached. A
 * second process could skip another's `-applying-` directory and still
 * remove a layer the first has mounted, or read a sandbox its VM is writing.
 *
 * A kernel lock (file-lock.ts), because it goes when its process goes,
 * however that happens: no stale lock to break, no pid to guess about. The
 * holder's pid is written to `root.pid` beside it, for the error message
 * only — a pid file alone would be racy.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LcowError, hostFsError } from '../errors.js';
import { tryLockFile } from '../file-lock.js';
import { processAlive } from '../process-alive.js';

export const ROOT_LOCK_FILE = 'root.lock';
export const ROOT_PID_FILE = 'root.pid';

export interface RootLock {
  /** Give the root back (idempotent). */
  release(): Promise<void>;
}

/** The holder's pid as its pid file says, when that names a live process (retried briefly: the holder writes it just after locking). */
async function holderPid(dir: string): Promise<number | undefined> {
  for (let i = 0; i < 5; i++) {
    const text = await fs.promises.readFile(path.join(dir, ROOT_PID_FILE), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isSafeInteger(pid) && pid > 0 && processAlive(pid)) return pid;
    await sleep(20);
  }
  return undefined;
}

async function busy(root: string, dir: string): Promise<LcowError> {
  const pid = await holderPid(dir);
  const who = pid === undefined ? 'another process' : pid === process.pid ? `this process (pid ${pid}: another LcowDriver)` : `process ${pid}`;
  return new LcowError('EBUSY', `data root ${root} is in use by ${who}; one process at a time may open it`, { root, holderPid: pid });
}

/**
 * Lock the data root `root` through `dir` (its cache folder, which exists).
 * EBUSY while another opener holds it.
 */
export async function lockRoot(root: string, dir: string): Promise<RootLock> {
  const file = path.join(dir, ROOT_LOCK_FILE);
  const lock = await tryLockFile(file, 'root lock');
  if (lock === 'busy') throw await busy(root, dir);
  const pidFile = path.join(dir, ROOT_PID_FILE);
  try {
    const tmp = `${pidFile}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await fs.promises.writeFile(tmp, `${process.pid}\n`, { mode: 0o644 });
    await fs.promises.rename(tmp, pidFile);
  } catch (err) {
    await lock.release();
    throw hostFsError(err, `cannot write ${pidFile}`, { file: pidFile });
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      // The pid file first: once the lock is gone, the next holder may already have written its own.
      await fs.promises.rm(pidFile, { force: true }).catch(() => undefined);
      await lock.release();
    },
  };
}
