/**
 * An exclusive kernel lock on a file, for locks between processes: the data
 * root's (driver/root-lock.ts) and a VM template build's
 * (backend/qemu/template/store.ts).
 *
 * A kernel lock, because it goes when its process goes, however that
 * happens: no stale lock to break, no pid to guess about (a lock folder with
 * a pid file in it needs both, and two waiters can both "take over" the same
 * dead owner's folder). POSIX: flock(2) (libc.ts; Node has no flock).
 * Windows: the file opened with no sharing (libuv's UV_FS_O_EXLOCK); a
 * second open fails with EBUSY.
 *
 * Removing a lock file safely: the holder unlinks it while still holding the
 * lock (`FileLock.release({ unlink: true })`). Whoever opened the old file
 * before the unlink gets its lock afterwards on an inode no path names any
 * more; `tryLockFile` notices (the path's inode is not the one locked) and
 * reports 'busy', so the caller simply tries again and creates a new file.
 */
import fs from 'node:fs';
import { LcowError, hostFsError } from './errors.js';
import { loadLibc } from './libc.js';

export interface FileLock {
  readonly path: string;
  /** Give the lock back (idempotent); `unlink` first removes the file while it is still held. */
  release(options?: { unlink?: boolean }): Promise<void>;
}

const LOCK_EX = 2;
const LOCK_NB = 4;
/** libuv's share-nothing open flag on Windows (fs.constants.UV_FS_O_EXLOCK where Node exports it). */
const UV_FS_O_EXLOCK = (fs.constants as unknown as Record<string, number | undefined>).UV_FS_O_EXLOCK ?? 0x10000000;

/**
 * Take the exclusive lock on `file` (created, mode 0600, when missing)
 * without waiting: 'busy' while another holder — another process, or another
 * open in this one — has it. `what` names the lock in error messages.
 */
export async function tryLockFile(file: string, what = 'lock file'): Promise<FileLock | 'busy'> {
  const fh = await openLocked(file, what);
  if (fh === 'busy') return 'busy';
  if (process.platform !== 'win32' && !(await stillNamed(fh, file))) {
    // Locked a file that its last holder unlinked after we opened it: not the live lock.
    await fh.close();
    return 'busy';
  }
  let released = false;
  return {
    path: file,
    release: async (options = {}) => {
      if (released) return;
      released = true;
      try {
        if (options.unlink) await fs.promises.rm(file, { force: true });
      } finally {
        await fh.close();
      }
    },
  };
}

async function openLocked(file: string, what: string): Promise<fs.promises.FileHandle | 'busy'> {
  if (process.platform === 'win32') {
    try {
      return await fs.promises.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT | UV_FS_O_EXLOCK, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EBUSY') return 'busy';
      throw hostFsError(err, `cannot open the ${what} ${file}`, { file });
    }
  }
  const libc = await loadLibc();
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'a', 0o600);
  } catch (err) {
    throw hostFsError(err, `cannot open the ${what} ${file}`, { file });
  }
  if (libc.flock(fh.fd, LOCK_EX | LOCK_NB) === 0) return fh;
  const errno = libc.errno();
  await fh.close();
  if (errno === libc.EWOULDBLOCK) return 'busy';
  throw new LcowError('EIO', `cannot lock ${file}: flock errno ${errno}`, { file, errno });
}

/** Does `file` still name the inode `fh` has open? */
async function stillNamed(fh: fs.promises.FileHandle, file: string): Promise<boolean> {
  const [held, named] = await Promise.all([fh.stat(), fs.promises.stat(file).catch(() => undefined)]);
  return named !== undefined && named.ino === held.ino && named.dev === held.dev;
}
