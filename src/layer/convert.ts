/**
 * tar → layer.vhd: the whole conversion as one atomic file operation.
 *
 *   input ─count─► decompress ─hash─► readTarEntries ─► [whiteouts] ─► Ext4Writer ─► [dm-verity] ─► [VHD footer]
 *
 * Everything is written to a temporary name beside the output
 * (`.<name>.tmp-<pid>-<time>-<n>`, so a crash leftover is recognisable and on
 * the same file system for the rename), fsynced, then renamed over the
 * output. Any failure or abort removes the temporary file: either the whole
 * image exists at `outPath` or nothing new does.
 *
 * The VHD footer's UniqueId is derived from the content rather than random,
 * so converting the same layer twice gives byte-identical files (the ext4
 * writer is deterministic): with dm-verity it is the root hash, otherwise a
 * SHA-256 of the uncompressed tar stream's digest (digest/stream-digest.ts),
 * the ext4 UUID (itself the same digest of all metadata) and the options
 * that shape the image.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { LcowError, asError, hostFsError, isLcowError, isSystemError } from '../errors.js';
import { EXT4_BLOCK_SIZE as BLOCK_SIZE, Ext4Writer, appendVerityTree, type LayerEntry } from '../ext4/index.js';
import { StreamDigest, sha256 } from '../digest/index.js';
import { openFile, removeFile, renamePath, type PositionalFile } from '../fd-file.js';
import { componentLogger, type Logger } from '../log.js';
import { writeAll } from '../write-all.js';
import { decompress, readTarEntries } from '../tar/index.js';
import { encodeVhdFooter } from '../vhd/index.js';
import { whiteoutEntry } from './whiteouts.js';

export interface ConvertProgress {
  /** Bytes read from the input as given (compressed bytes for a compressed layer). */
  bytesRead: number;
  entries: number;
}

export interface ConvertOptions {
  /** Convert `.wh.` names into overlay whiteouts (OCI layers). Default false. */
  whiteouts?: boolean;
  /** Append the 512-byte fixed-VHD footer. Default true. */
  vhdFooter?: boolean;
  /** Append a dm-verity hash tree (before the footer). Default false. */
  verity?: boolean;
  /**
   * Pad the data (ext4 + verity tree) with a hole up to a multiple of this
   * many bytes, before the footer. Default: 2 MiB with a VHD footer — QEMU
   * maps a virtio-pmem (VPMEM) device only in whole 2 MiB sections, so an
   * unpadded layer could only ever be attached over SCSI there; Hyper-V needs
   * 4 KiB, which 2 MiB also is. The padding is a hole: no disk space, and the
   * file system ignores it. Without a footer (a raw image) the default is 4096:
   * no padding. A power of two, at least 4096.
   */
  alignBytes?: number;
  maxDiskSizeBytes?: number;
  maxFileSizeBytes?: number;
  /**
   * fsync the image, and its directory after the rename, before resolving.
   * Default true: the image is durable when the promise resolves. false
   * leaves that to the caller (`lcow convert --no-sync`, as `cp` or hcsshim's
   * tar2ext4 do); the rename stays atomic either way.
   */
  sync?: boolean;
  /** Called as input is consumed (every upstream chunk); throttle in the caller. */
  onProgress?: (p: ConvertProgress) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface ConvertResult {
  outPath: string;
  /** Size of the whole file: ext4 + verity + padding (see alignBytes) + footer. */
  sizeBytes: number;
  ext4SizeBytes: number;
  entries: number;
  /** dm-verity root hash (hex), when `verity` was asked for. */
  rootHash?: string;
  verity?: { rootHash: string; salt: string; hashOffsetBytes: number; totalSizeBytes: number };
  /** The ext4 file-system UUID. */
  uuid: string;
}

export type ConvertInput = NodeJS.ReadableStream | AsyncIterable<Buffer | Uint8Array> | Iterable<Buffer | Uint8Array>;

/** The data alignment a VHD layer gets by default: QEMU's virtio-pmem section size. */
export const DEFAULT_LAYER_ALIGNMENT = 2 * 1024 * 1024;

export async function convertTarToExt4(input: ConvertInput, outPath: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const align = options.alignBytes;
  if (align !== undefined && !(Number.isSafeInteger(align) && align >= BLOCK_SIZE && (align & (align - 1)) === 0)) {
    throw new LcowError('EINVAL', `alignBytes must be a power of two of at least ${BLOCK_SIZE}`, { alignBytes: align });
  }
  const target = resolve(outPath);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${tempSuffix()}`);
  const log = componentLogger(options.logger, 'convert', { outPath: target });
  const { signal } = options;
  if (signal?.aborted) throw canceled(target);

  let fh: PositionalFile | undefined;
  try {
    fh = await openFile(tmp, 'wx+', 0o644);
  } catch (err) {
    throw hostFsError(err, 'cannot create the temporary output file', { path: tmp });
  }
  const handle = fh;

  // The abort race: a stalled input or a long write must not delay cancellation.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(canceled(target));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  const work = convertInto(handle, input, target, options, log);
  try {
    const result = await (signal ? Promise.race([work, aborted]) : work);
    const durable = options.sync ?? true;
    if (durable) await handle.sync();
    await handle.close();
    fh = undefined;
    await renamePath(tmp, target).catch((err: unknown) => {
      throw hostFsError(err, 'cannot rename the finished image into place', { path: target });
    });
    if (durable) await syncDir(dirname(target));
    log.debug({ ...result }, 'converted');
    return result;
  } catch (err) {
    work.catch(() => undefined); // settled or abandoned: its own failure is no longer news
    if (signal?.aborted) destroyInput(input);
    await fh?.close().catch(() => undefined);
    await removeFile(tmp).catch(() => undefined);
    if (isLcowError(err)) throw err;
    if (isSystemError(err)) throw hostFsError(err, 'cannot write the image', { path: tmp });
    throw asError(err);
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

async function convertInto(fh: PositionalFile, input: ConvertInput, target: string, options: ConvertOptions, log: Logger): Promise<ConvertResult> {
  const progress: ConvertProgress = { bytesRead: 0, entries: 0 };
  // Only a footer without verity needs it (for the content-derived VHD id).
  const tarDigest = (options.vhdFooter ?? true) && !options.verity ? new StreamDigest() : undefined;
  const { signal, onProgress } = options;

  async function* counted(): AsyncGenerator<Buffer | Uint8Array> {
    for await (const chunk of input as AsyncIterable<Buffer | Uint8Array | string>) {
      if (signal?.aborted) throw canceled(target);
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      progress.bytesRead += b.length;
      onProgress?.({ ...progress });
      yield b;
    }
  }
  async function* hashed(): AsyncGenerator<Buffer> {
    for await (const chunk of decompress(counted())) {
      tarDigest?.update(chunk);
      yield chunk;
    }
  }

  const writer = Ext4Writer.create(fh, { maxDiskSizeBytes: options.maxDiskSizeBytes, logger: log });
  const reader = readTarEntries(hashed(), { maxFileSizeBytes: options.maxFileSizeBytes, logger: log });
  const whiteouts = options.whiteouts ?? false;
  // Most entries come (TarReader.pull), have their whiteouts converted and go in
  // (Ext4Writer.tryAdd) without an await; the rest wait for their bytes.
  let complete = false;
  try {
    for (;;) {
      const pulled = reader.pull();
      const tarEntry = pulled instanceof Promise ? await pulled : pulled;
      if (tarEntry === null) break;
      if (signal?.aborted) throw canceled(target);
      const entry = whiteouts ? whiteoutEntry(tarEntry) : tarEntry;
      if (entry === undefined) continue; // AUFS bookkeeping: dropped
      try {
        if (!writer.tryAdd(entry)) await writer.add(entry);
      } catch (err) {
        throw withEntry(err, entry);
      }
      progress.entries++;
    }
    complete = true;
  } finally {
    if (!complete) await reader.return(); // release the input, as a for-await left early would
  }

  onProgress?.({ ...progress });
  const fs = await writer.finish();
  const contentDigest = tarDigest?.digest();

  let total = fs.sizeBytes;
  const result: ConvertResult = { outPath: target, sizeBytes: total, ext4SizeBytes: fs.sizeBytes, entries: progress.entries, uuid: fs.uuid };
  if (options.verity) {
    const v = await appendVerityTree(fh, fs.sizeBytes);
    const rootHash = hex(v.rootHash);
    result.rootHash = rootHash;
    result.verity = { rootHash, salt: hex(v.salt), hashOffsetBytes: v.hashOffsetBytes, totalSizeBytes: v.totalSizeBytes };
    total = v.totalSizeBytes;
  }
  const withFooter = options.vhdFooter ?? true;
  const align = options.alignBytes ?? (withFooter ? DEFAULT_LAYER_ALIGNMENT : BLOCK_SIZE);
  const padded = Math.ceil(total / align) * align;
  if (padded > total) {
    await fh.truncate(padded); // a hole: reads as zeros, takes no blocks
    total = padded;
  }
  if (withFooter) {
    const uniqueId = result.rootHash
      ? Buffer.from(result.rootHash, 'hex').subarray(0, 16)
      : sha256(
          contentDigest!,
          fs.uuid, // the metadata's digest (see digest/stream-digest.ts)
          JSON.stringify({ whiteouts: options.whiteouts ?? false, maxDiskSizeBytes: options.maxDiskSizeBytes ?? null }),
        ).subarray(0, 16);
    const footer = encodeVhdFooter(total, uniqueId);
    await writeAll(fh, footer, total);
    total += footer.length;
  }
  result.sizeBytes = total;
  return result;
}

function hex(v: Buffer | Uint8Array | string): string {
  return typeof v === 'string' ? v : Buffer.from(v).toString('hex');
}

/** A writer failure that does not say which entry caused it gets the entry added. */
function withEntry(err: unknown, entry: LayerEntry): unknown {
  if (!isLcowError(err) || 'entry' in err.context) return err;
  return new LcowError(err.code, `${err.message} (entry '${entry.tarName}')`, { ...err.context, entry: entry.tarName, path: entry.path }, { cause: err });
}

function canceled(outPath: string): LcowError {
  return new LcowError('ECANCELED', 'conversion aborted', { outPath });
}

function destroyInput(input: ConvertInput): void {
  const d = (input as { destroy?: () => void }).destroy;
  if (typeof d === 'function') d.call(input);
}

/** Make the rename durable: fsync the directory (best effort; not all file systems allow it). */
async function syncDir(dir: string): Promise<void> {
  let d: PositionalFile | undefined;
  try {
    d = await openFile(dir, 'r');
    await d.sync();
  } catch {
    // e.g. EISDIR/EINVAL on some platforms: the rename itself already happened.
  } finally {
    await d?.close().catch(() => undefined);
  }
}

let tempCount = 0;

/**
 * Unique among this host's conversions: the process, the time (another
 * process that had the same pid before a crash left its file), a count
 * within this process. The file is created exclusively all the same, so a
 * clash fails rather than overwrites. Not random: `randomBytes` would load
 * `node:crypto` for this alone (digest/sha256.ts says what that costs).
 */
function tempSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${++tempCount}`;
}
