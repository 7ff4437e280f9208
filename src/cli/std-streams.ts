/**
 * The CLI's standard output and error without Node's `process.stdout` and
 * `process.stderr` where a command can do without them. The first touch of
 * either builds a stream for the fd: on a pipe a `net.Socket` (Node's net,
 * stream, tty and perf modules compiled on the spot), on a file a
 * SyncWriteStream — 8–9 ms on a pipe, ~4 ms on a file, on this project's
 * 2-vCPU machine, against 0.4 ms for one `writeSync` (issue 11, round 8:
 * `lcow convert` of a node_modules tar takes ~0.33 s, so that was 3% of it).
 * A converter prints one line at the end and draws progress only on a
 * terminal, so neither needs a stream.
 *
 * Windows keeps Node's streams: its pipes are asynchronous there, and a
 * synchronous write could block on a reader that is waiting for the process.
 */
import { fstatSync, writeSync } from 'node:fs';

/** Whether `fd` (1 or 2) is a terminal; on a pipe or a file this creates no stream. */
export function isTerminal(fd: 1 | 2): boolean {
  if (process.platform !== 'win32') {
    try {
      // A terminal is a character device; a pipe, a socket or a file is not (only
      // /dev/null and the like are character devices that are not terminals).
      if (!fstatSync(fd).isCharacterDevice()) return false;
    } catch {
      return false; // closed
    }
  }
  return (fd === 1 ? process.stdout : process.stderr).isTTY === true;
}

type WriteSync = (fd: number, bytes: Uint8Array, offset: number) => number;

/**
 * Write `text` to standard output now, with write(2) (partial writes
 * continued). A non-blocking pipe that is full (EAGAIN: the fd is shared
 * with a process that made it non-blocking) gets the rest through
 * `process.stdout`, which waits for room. Other errors (EPIPE: nobody reads)
 * are thrown, as `process.stdout` would emit them.
 */
export function writeStdout(text: string, write: WriteSync = writeSync): void {
  if (process.platform === 'win32') {
    process.stdout.write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let off = 0;
  try {
    while (off < bytes.length) off += write(1, bytes, off);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    process.stdout.write(bytes.subarray(off));
  }
}

/**
 * Standard output as the commands that avoid `process.stdout` write it: one
 * object, so that a test running a command in its own process can capture
 * the output (vi.spyOn(commandStdout, 'write')) as it does process.stdout's.
 */
export const commandStdout = {
  write(text: string): void {
    writeStdout(text);
  },
};
