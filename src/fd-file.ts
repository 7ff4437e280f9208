/**
 * Files as promises over Node's callback `fs`, for the converter's path:
 * `node:fs/promises` (with the readline, watcher and directory code it
 * loads) costs ~3 ms at every `lcow convert` start on this project's 2-vCPU
 * machine (issue 11, round 8), while the callback API is part of Node's
 * start-up snapshot. Each call is the same single request on libuv's pool
 * as its `fs/promises` twin.
 *
 * `PositionalFile` is the part of `fs/promises`' FileHandle that the tar
 * reader, the ext4 writer and the layer pipeline use: a FileHandle is one,
 * so callers that hold one pass it as before.
 */
import { close, fstat, fsync, ftruncate, open, read, rename, rm, stat, write, type Mode, type OpenMode, type Stats } from 'node:fs';

export interface PositionalFile {
  readonly fd: number;
  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number; buffer: Buffer }>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  stat(): Promise<Stats>;
  close(): Promise<void>;
}

/** The callback's error, or its value. */
function settle<T>(resolve: (v: T) => void, reject: (e: unknown) => void): (err: NodeJS.ErrnoException | null, v: T) => void {
  return (err, v) => (err ? reject(err) : resolve(v));
}

class FdFile implements PositionalFile {
  private closed = false;

  constructor(readonly fd: number) {}

  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesRead: number; buffer: Buffer }> {
    return new Promise((resolve, reject) =>
      read(this.fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead, buffer }))),
    );
  }

  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number; buffer: Buffer }> {
    return new Promise((resolve, reject) =>
      write(this.fd, buffer, offset, length, position, (err, bytesWritten) => (err ? reject(err) : resolve({ bytesWritten, buffer }))),
    );
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => ftruncate(this.fd, length, settle(resolve, reject)));
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fsync(this.fd, settle(resolve, reject)));
  }

  stat(): Promise<Stats> {
    return new Promise((resolve, reject) => fstat(this.fd, settle(resolve, reject)));
  }

  /** Closes once; a second close is a no-op, as FileHandle's is. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve, reject) => close(this.fd, settle(resolve, reject)));
  }
}

export function openFile(path: string, flags: OpenMode, mode?: Mode): Promise<PositionalFile> {
  return new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(new FdFile(fd)))));
}

export function renamePath(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => rename(from, to, settle(resolve, reject)));
}

/** `rm -f`: a missing file is no error. */
export function removeFile(path: string): Promise<void> {
  return new Promise((resolve, reject) => rm(path, { force: true }, settle(resolve, reject)));
}

export function statPath(path: string): Promise<Stats> {
  return new Promise((resolve, reject) => stat(path, settle(resolve, reject)));
}
