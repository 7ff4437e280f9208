/**
 * The few libc calls Node does not offer, bound through koffi on first use
 * (koffi is a native module: nothing loads at import, and nothing at all on
 * a path that never needs them). POSIX only; callers check the platform.
 *
 * - flock(2): kernel file locks (file-lock.ts).
 * - fcntl(F_SETPIPE_SZ): a larger pipe buffer for a layer read from a pipe
 *   (layer/file-chunks.ts).
 */
export interface Libc {
  flock(fd: number, operation: number): number;
  fcntl(fd: number, command: number, arg: number): number;
  /** errno of the last failed call on this thread. */
  errno(): number;
  readonly EWOULDBLOCK: number;
}

let libc: Promise<Libc> | undefined;

export function loadLibc(): Promise<Libc> {
  libc ??= import('koffi').then(({ default: koffi }) => {
    // dlopen(NULL): the process itself, which has libc loaded (glibc, musl, macOS alike).
    const self = koffi.load(null);
    return {
      flock: self.func('int flock(int, int)') as Libc['flock'],
      fcntl: self.func('int fcntl(int, int, int)') as Libc['fcntl'],
      errno: () => koffi.errno(),
      EWOULDBLOCK: koffi.os.errno.EWOULDBLOCK ?? 11,
    };
  });
  return libc;
}
