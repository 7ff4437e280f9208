/**
 * Read a layer file in chunks through a small ring of reused buffers, several
 * reads already running while the consumer works on the current chunk.
 *
 * Why: with fs.createReadStream every chunk is a fresh buffer, and the
 * garbage waits for V8 to notice the external memory — measured here as
 * +31 MiB peak RSS just to read a 190 MiB tar, more than the whole
 * converter needs otherwise. Reusing buffers makes reading cost a few MiB.
 *
 * Why several reads ahead: each read is a round trip through libuv's thread
 * pool. With one read ahead the converter waited 150–200 ms for reads on a
 * 588 MiB /usr tar (of ~0.6 s); with four 256 KiB reads ahead, ~80 ms, and
 * the wall time fell 8%. Why 512 KiB reads: every round trip wakes a pool
 * thread and is woken back, ~10% of the main thread's time in the kernel on
 * this VM; with 512 KiB reads (three ahead) and 1 MiB write batches, 5% less
 * wall time on that tar for 2.5 MiB more (issue 11, round 4; layer/README.md).
 * Why two ahead and a ring of three since round 7: on this project's VMs
 * every page of fresh memory costs ~12 µs when first touched, so each slot
 * less (512 KiB) is ~1.5 ms of every conversion; two ahead measured 0.98×
 * the wall time of three on node_modules, 0.99× on /usr.
 *
 * The contract that makes reuse safe: a chunk stays valid while the consumer
 * pulls up to `ring - 2` further chunks (the buffers after those are being
 * filled). The tar reader and the ext4 writer honour it by construction: they
 * pull only when they are done with what they hold, copy whatever they keep
 * (long names, PAX records, batched writes), and tar's decompress() copies
 * chunks before handing them to zlib, which may hold several at once. Do not
 * give these chunks to anything that keeps references (use createReadStream
 * there).
 */
import { openFile, type PositionalFile } from '../fd-file.js';
import { hostFsError, isSystemError } from '../errors.js';
import { loadLibc } from '../libc.js';
import { releaseHashableBuffers, takeHashableBuffers } from '../digest/index.js';

type ReadResult = Awaited<ReturnType<PositionalFile['read']>>;
export interface FileChunkOptions {
  /** Bytes per read. Default 512 KiB (a slot of the digest's memory, digest/lane-hash.ts). */
  chunkSize?: number;
  /** Buffers the consumer may still hold: a chunk stays valid while it pulls `ring - 2` more. Default 3, the least (the tar reader and the writer copy what they keep past their next pull). */
  ring?: number;
  /** Reads in flight ahead of the consumer. Default 2 (≥ 1). */
  readAhead?: number;
  /** Called when the file handle is open, with its size (for progress bars). */
  onOpen?: (sizeBytes: number) => void;
}

export async function* readFileChunks(path: string, options: FileChunkOptions = {}): AsyncGenerator<Buffer> {
  const size = options.chunkSize ?? 512 * 1024;
  let fh: PositionalFile;
  let regular: boolean;
  try {
    fh = await openFile(path, 'r');
  } catch (err) {
    throw hostFsError(err, 'cannot open the layer', { path });
  }
  try {
    const st = await fh.stat();
    regular = st.isFile();
    options.onOpen?.(st.size);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw hostFsError(err, 'cannot read the layer', { path });
  }
  try {
    // A pipe or FIFO (`<(zcat layer.tar.gz)`) has no offsets to read at: one read at a time, in order.
    if (!regular) await growPipe(fh.fd);
    yield* regular ? readAhead(fh, size, options) : readInOrder(fh, size, options.ring);
  } catch (err) {
    throw isSystemError(err) ? hostFsError(err, 'cannot read the layer', { path }) : err;
  } finally {
    await fh.close();
  }
}

async function* readAhead(fh: PositionalFile, size: number, options: FileChunkOptions): AsyncGenerator<Buffer> {
  const depth = Math.max(1, options.readAhead ?? 2);
  // `depth` buffers being filled, plus the ones the consumer may hold.
  const ring = ringOf(Math.max(3, options.ring ?? 3) + depth - 1, size);
  const ahead: Promise<ReadResult>[] = [];
  try {
    let next = 0; // file offset of the next read to start
    let slot = 0;
    const start = (): void => {
      ahead.push(fh.read(ring[slot]!, 0, size, next));
      slot = (slot + 1) % ring.length;
      next += size;
    };
    for (let k = 0; k < depth; k++) start();
    for (;;) {
      const { bytesRead, buffer } = await ahead.shift()!;
      if (bytesRead === 0) return;
      if (bytesRead < size) {
        // End of file, or a file that changed under us: the reads after this
        // one asked for the wrong offsets. Drop them and go on one read at a time.
        yield* finishInOrder(fh, ahead.splice(0), buffer.subarray(0, bytesRead), next - size * depth + bytesRead, size);
        return;
      }
      start();
      yield buffer;
    }
  } finally {
    for (const p of ahead) await p.catch(() => undefined); // never close the handle under a read in flight
    releaseHashableBuffers(ring);
  }
}

/**
 * Reads one after another (a pipe's only order), one ahead of the consumer,
 * through a ring of reused buffers with the same contract; `position` null
 * reads wherever the descriptor is.
 */
async function* readInOrder(fh: PositionalFile, size: number, ringSize = 3, position: number | null = null): AsyncGenerator<Buffer> {
  const ring = ringOf(Math.max(3, ringSize), size);
  let slot = 0;
  let ahead: Promise<ReadResult> | undefined = fh.read(ring[0]!, 0, size, position);
  try {
    for (;;) {
      const { bytesRead, buffer } = await ahead;
      ahead = undefined;
      if (bytesRead === 0) return;
      if (position !== null) position += bytesRead;
      slot = (slot + 1) % ring.length;
      ahead = fh.read(ring[slot]!, 0, size, position);
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await ahead?.catch(() => undefined); // never close the handle under a read in flight
    releaseHashableBuffers(ring);
  }
}

/**
 * The read buffers: in the content digest's WebAssembly memory when it has room (the
 * digest then hashes each chunk where it lies, digest/lane-hash.ts), else ordinary ones.
 */
function ringOf(count: number, size: number): Buffer[] {
  return takeHashableBuffers(count, size) ?? Array.from({ length: count }, () => Buffer.allocUnsafe(size));
}

/**
 * After a short read that ended at `after`: hand it out, then look for more
 * (nearly always none: the short read was the end of the file) and, if the
 * file grew, read on in order.
 */
async function* finishInOrder(fh: PositionalFile, stale: Promise<ReadResult>[], short: Buffer, after: number, size: number): AsyncGenerator<Buffer> {
  await Promise.all(stale.map((p) => p.catch(() => undefined)));
  yield short;
  const probe = Buffer.allocUnsafe(size);
  const { bytesRead } = await fh.read(probe, 0, size, after);
  if (bytesRead === 0) return;
  yield probe.subarray(0, bytesRead);
  yield* readInOrder(fh, size, 4, after + bytesRead);
}

/** Linux: F_SETPIPE_SZ, in fcntl.h since 2.6.35. */
const F_SETPIPE_SZ = 1031;
/** The default /proc/sys/fs/pipe-max-size: what an unprivileged process may ask for. */
const PIPE_BYTES = 1 << 20;

/**
 * Best effort: a 1 MiB pipe buffer instead of the default 64 KiB, so each
 * read takes up to a whole chunk. With 64 KiB every read is a round trip
 * through libuv's pool for a quarter of a chunk: a 588 MiB tar through
 * `cat … |` took 1.41 s, 0.94 s with the larger buffer (a regular file:
 * 0.65 s). Not a pipe (a character device), another OS, or a refusal: left as it is.
 */
async function growPipe(fd: number): Promise<void> {
  if (process.platform !== 'linux') return;
  try {
    (await loadLibc()).fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES);
  } catch {
    // koffi missing or unusable: the default buffer works, only slower
  }
}
