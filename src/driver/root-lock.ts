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
 * A kernel lock, because it goes when its process goes, however that
 * happens: no stale lock to break, no pid to guess about. POSIX: flock(2)
 * through koffi (Node has no flock). Windows: the file opened with no
 * sharing (libuv's UV_FS_O_EXLOCK); a second open fails with EBUSY. The
 * holder's pid is written to `root.pid` beside it, for the error message
 * only — a pid file alone would be racy.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LcowError, hostFsError } from '../errors.js';
import { processAlive } from '../process-alive.js';

export const ROOT_LOCK_FILE = 'root.lock';
export const ROOT_PID_FILE = 'root.pid';

export interface RootLock {
  /** Give the root back (idempotent). */
  release(): Promise<void>;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
/** libuv's share-nothing open flag on Windows (fs.constants.UV_FS_O_EXLOCK where Node exports it). */
const UV_FS_O_EXLOCK = (fs.constants as unknown as Record<string, number | undefined>).UV_FS_O_EXLOCK ?? 0x10000000;

interface Flock {
  flock(fd: number, operation: number): number;
  errno(): number;
  wouldBlock: number;
}
let flockApi: Promise<Flock> | undefined;

/** libc's flock, loaded on first use (koffi is a native module; nothing loads at import). */
function loadFlock(): Promise<Flock> {
  flockApi ??= import('koffi').then(({ default: koffi }) => {
    // dlopen(NULL): the process itself, which has libc loaded (glibc, musl, macOS alike).
    const flock = koffi.load(null).func('int flock(int, int)') as (fd: number, operation: number) => number;
    return { flock, errno: () => koffi.errno(), wouldBlock: koffi.os.errno.EWOULDBLOCK ?? 11 };
  });
  return flockApi;
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

async function openLocked(file: string): Promise<fs.promises.FileHandle | 'busy'> {
  if (process.platform === 'win32') {
    try {
      return await fs.promises.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT | UV_FS_O_EXLOCK, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') return 'busy';
      throw hostFsError(err, `cannot open the root lock ${file}`, { file });
    }
  }
  const api = await loadFlock();
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'a', 0o600);
  } catch (err) {
    throw hostFsError(err, `cannot open the root lock ${file}`, { file });
  }
  if (api.flock(fh.fd, LOCK_EX | LOCK_NB) === 0) return fh;
  const errno = api.errno();
  await fh.close();
  if (errno === api.wouldBlock) return 'busy';
  throw new LcowError('EIO', `cannot lock ${file}: flock errno ${errno}`, { file, errno });
}

/**
 * Lock the data root `root` through `dir` (its cache folder, which exists).
 * EBUSY while another opener holds it.
 */
export async function lockRoot(root: string, dir: string): Promise<RootLock> {
  const file = path.join(dir, ROOT_LOCK_FILE);
  const fh = await openLocked(file);
  if (fh === 'busy') throw await busy(root, dir);
  const pidFile = path.join(dir, ROOT_PID_FILE);
  try {
    const tmp = `${pidFile}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    await fs.promises.writeFile(tmp, `${process.pid}\n`, { mode: 0o644 });
    await fs.promises.rename(tmp, pidFile);
  } catch (err) {
    await fh.close();
    throw hostFsError(err, `cannot write ${pidFile}`, { file: pidFile });
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      // The pid file first: once the lock is gone, the next holder may already have written its own.
      await fs.promises.rm(pidFile, { force: true }).catch(() => undefined);
      await fh.close();
    },
  };
}
