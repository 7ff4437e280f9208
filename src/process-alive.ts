/**
 * Is process `pid` alive? Signal 0 checks without touching it; EPERM means
 * it exists but belongs to someone else — alive all the same. Used where a
 * pid file names an owner (the data root's `root.pid`, for its EBUSY
 * message) to tell a live holder from a dead one.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
