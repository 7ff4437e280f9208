/**
 * The reader: a tar byte stream (or a tar file) → TarEntry objects.
 *
 * Why our own parser rather than wrapping tar-stream: tar-stream 3 leaves
 * exactly the hard parts to the caller — it hands over GNU 'S' sparse entries
 * with type null and packed data, PAX 1.0 sparse files under their
 * GNUSparseFile.N names with the map inside the data, and PAX times, uids
 * and xattrs as lossy strings (xattr values are bytes). Re-parsing all that
 * on top of its headers would leave two parsers to trust. A tar header is a
 * fixed 512-byte layout, so a pull parser over the raw bytes (byte-source.ts)
 * is small, verifies the checksum itself, keeps PAX values binary, decodes
 * every sparse format in the same pass, and gets backpressure for free: it
 * reads upstream only when the consumer asks for the next entry or the next
 * chunk of a body. File bodies are never buffered.
 *
 * Contract with the consumer: consume (or abandon) an entry's body before
 * asking for the next entry; what is left of it is skipped then.
 */
import type { Logger } from '../log.js';
import { componentLogger } from '../log.js';
import { byteStringOf, bytesToText } from '../byte-names.js';
import { LcowError } from '../errors.js';
import { ByteSource, type ByteReader } from './byte-source.js';
import { cleanPath, describePathProblem } from './clean-path.js';
import type { SparseRegion, TarEntry, TarEntryMeta, TarFileBody, TarFileEntry, Timestamp } from './entry.js';
import { BLOCK, HeaderError, blockPadding, cString, decodeHeader, decodeSparseArray, isZeroBlock, type RawHeader } from './header.js';
import { decodeCommonHeader, rawHeaderScratch } from './header-fast.js';
import { PaxError, collectPax, decodePaxRecords, type PaxOverrides, type PaxRecord } from './pax.js';
import { MAX_SPARSE_REGIONS, Sparse10MapParser, SparseError, normaliseSparse, sparseFromPax } from './sparse.js';
import { GNU_SPARSE, KIND_OF_TYPEFLAG, META_TYPEFLAG } from './types.js';

export interface ReadTarOptions {
  /** Largest logical file size accepted (ETOOBIG beyond). */
  maxFileSizeBytes?: number;
  logger?: Logger;
}

/** GNU long names/links are paths; anything this long is not one. */
const MAX_LONG_NAME = 64 * 1024;
/** PAX headers hold names and xattrs (ext4, the main consumer, keeps at most a block of xattrs per inode). */
const MAX_PAX_HEADER = 16 * 1024 * 1024;
/** Largest body slice handed out at once. */
const MAX_BODY_SLICE = 1024 * 1024;

/** Metadata headers seen since the last real entry; they apply to the next one. */
interface Pending {
  longName?: Buffer;
  longLink?: Buffer;
  pax: PaxRecord[];
}

/** Plain tar only: decompress() first (the reader sees the bytes its caller hashes). */
export function readTarEntries(input: AsyncIterable<Buffer | Uint8Array | string> | ByteReader, options: ReadTarOptions = {}): TarReader {
  return new TarReader(isByteReader(input) ? input : new ByteSource(input), options);
}

/** What one header comes to: an entry, a metadata header taken in (read on), or the end of the archive. */
type Step = TarEntry | 'meta' | null;

/**
 * The entries of a tar, pulled one at a time: `for await`, or `pull()`,
 * which gives the next entry at once when its headers are already in memory
 * (most members of a layer) and a promise only when it must wait for input.
 * An async generator cost a promise, an IteratorResult and a resumption per
 * member (~900 bytes of garbage each, measured on node_modules).
 */
export class TarReader implements AsyncIterableIterator<TarEntry> {
  private readonly log: Logger;
  private pending: Pending = { pax: [] };
  /** The last file handed out: what the consumer left of its body is skipped, with its padding, before the next header. */
  private lastBody: Body | undefined;
  private lastPadding = 0;
  private ended = false;
  /** Where the common header form is decoded, member after member (header-fast.ts). */
  private readonly raw = rawHeaderScratch();
  private readonly times = new HeaderTimes();
  /** Where buildEntry leaves an entry it built at once. */
  private readonly built: Built = { entry: emptyEntry, dataSize: 0 };

  constructor(
    private readonly src: ByteReader,
    private readonly options: ReadTarOptions,
  ) {
    this.log = componentLogger(options.logger, 'tar');
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<TarEntry, undefined>> {
    const entry = await this.pull();
    return entry === null ? { done: true, value: undefined } : { done: false, value: entry };
  }

  /** Stop early: the input is released. */
  async return(): Promise<IteratorResult<TarEntry, undefined>> {
    if (!this.ended) {
      this.ended = true;
      await this.src.close().catch(() => undefined);
    }
    return { done: true, value: undefined };
  }

  /** The next entry (at once when it can be), or null after the last. A failure rejects, the input released. */
  pull(): TarEntry | null | Promise<TarEntry | null> {
    if (this.ended) return null;
    try {
      for (;;) {
        if (!this.skipLastNow()) return this.pullAsync();
        const headerOffset = this.src.position;
        const block = this.src.takeNow?.(BLOCK);
        if (!block) return this.pullAsync();
        const step = this.onHeader(block, headerOffset);
        if (step instanceof Promise)
          return step.then(
            (s) => (s === 'meta' ? this.pullAsync() : this.settle(s)),
            (err: unknown) => this.fail(err),
          );
        if (step !== 'meta') return this.settle(step);
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  private async pullAsync(): Promise<TarEntry | null> {
    try {
      for (;;) {
        await this.skipLast();
        const headerOffset = this.src.position;
        const block = this.src.takeNow?.(BLOCK) ?? (await this.src.read(BLOCK));
        const step = await this.onHeader(block, headerOffset);
        if (step !== 'meta') return await this.settle(step);
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  private async fail(err: unknown): Promise<never> {
    if (!this.ended) {
      this.ended = true;
      await this.src.close().catch(() => undefined);
    }
    throw err;
  }

  /** An entry to hand out; at the end, the input drained (only record padding is left: a pipe upstream then closes cleanly). */
  private settle(step: TarEntry | null): TarEntry | Promise<null> {
    if (step !== null) return step;
    this.ended = true;
    return this.src.drain().then(() => null);
  }

  /** What the consumer left of the last body, then its padding, when in memory (true). */
  private skipLastNow(): boolean {
    if (this.lastBody === undefined) return true;
    const rest = this.lastBody.remaining + this.lastPadding;
    if (rest > 0 && !this.src.skipNow?.(rest)) return false;
    this.lastBody = undefined;
    return true;
  }

  private async skipLast(): Promise<void> {
    if (this.skipLastNow()) return;
    const body = this.lastBody!;
    this.lastBody = undefined;
    const rest = body.remaining + this.lastPadding;
    if ((await this.src.skip(rest)) < rest) throw truncated(body.tarName, this.src.position);
  }

  /** One header block: synchronous but for what must wait for input. */
  private onHeader(block: Buffer, headerOffset: number): Step | Promise<Step> {
    const { src, pending } = this;
    if (block.length === 0) {
      // EOF on a block boundary without the end-of-archive marker: accepted,
      // as GNU tar and Go do — unless a long-name/PAX header was dangling.
      if (pending.longName || pending.longLink || pending.pax.length) throw truncated(describePending(pending), headerOffset);
      return null;
    }
    if (block.length < BLOCK) {
      // Name the entry when enough of its header arrived to show the name field.
      const partial = block.length >= 100 ? cString(block.subarray(0, 100)).toString('latin1') : undefined;
      throw truncated(describePending(pending) ?? partial ?? '(header)', headerOffset);
    }
    if (isZeroBlock(block)) {
      return src.read(BLOCK).then((next) => {
        if (next.length === 0 || (next.length === BLOCK && isZeroBlock(next))) return null;
        throw new LcowError('EBADTAR', 'a zero block inside the archive is followed by more data', { offset: headerOffset });
      });
    }

    let raw: RawHeader;
    try {
      // The common forms in one WebAssembly call; everything else, and every error, in header.ts.
      raw = decodeCommonHeader(block, this.raw) ?? decodeHeader(block);
    } catch (err) {
      if (!(err instanceof HeaderError)) throw err;
      const guess = cString(block.subarray(0, 100)).toString('latin1');
      throw new LcowError('EBADTAR', `bad tar header for '${guess}': ${err.message}`, { entry: guess, offset: headerOffset, field: err.field }, { cause: err });
    }

    // Metadata headers: they carry data for the following entry.
    switch (raw.typeflag) {
      case META_TYPEFLAG.gnuLongName:
      case META_TYPEFLAG.gnuLongLink: {
        const take = (data: Buffer): Step => {
          if (raw.typeflag === META_TYPEFLAG.gnuLongName) pending.longName = cString(data);
          else pending.longLink = cString(data);
          return 'meta';
        };
        const data = metaBody(src, raw, MAX_LONG_NAME, headerOffset);
        return data instanceof Promise ? data.then(take) : take(data);
      }
      case META_TYPEFLAG.pax:
      case META_TYPEFLAG.paxSolaris: {
        const take = (data: Buffer): Step => {
          const records = decodePaxRecords(data);
          if (!records) throw new LcowError('EBADTAR', 'malformed PAX extended header', { entry: raw.name.toString('latin1'), offset: headerOffset });
          pending.pax.push(...records);
          return 'meta';
        };
        const data = metaBody(src, raw, MAX_PAX_HEADER, headerOffset);
        return data instanceof Promise ? data.then(take) : take(data);
      }
      case META_TYPEFLAG.paxGlobal: // global PAX defaults: nothing in them matters for a layer (documented choice)
        this.log.debug({ offset: headerOffset }, 'ignoring PAX global header');
        return skipBody(src, raw.size, raw.name.toString('latin1'), headerOffset).then((): Step => 'meta');
      case META_TYPEFLAG.gnuVolumeLabel: // volume label: harmless, no file
        this.log.warn({ offset: headerOffset, label: raw.name.toString('latin1') }, 'skipping tar volume label');
        return skipBody(src, raw.size, raw.name.toString('latin1'), headerOffset).then((): Step => {
          this.pending = { pax: [] };
          return 'meta';
        });
    }

    const b = buildEntry(src, raw, pending, headerOffset, this.options, this.built, this.times);
    return b instanceof Promise ? b.then((w) => this.handOut(w.entry, w.dataSize, headerOffset)) : this.handOut(b.entry, b.dataSize, headerOffset);
  }

  /** The entry with its body attached (a file), or its data skipped (anything else). */
  private handOut(entry: TarEntry, dataSize: number, headerOffset: number): Step | Promise<Step> {
    // Metadata headers are rare: the pending set is replaced only when one was taken in.
    const p = this.pending;
    if (p.pax.length > 0 || p.longName !== undefined || p.longLink !== undefined) this.pending = { pax: [] };
    if (entry.kind === 'file') {
      const body = new Body(this.src, dataSize, entry.tarName);
      entry.body = body;
      entry.dataOffset = this.src.position;
      this.lastBody = body;
      this.lastPadding = blockPadding(dataSize);
      return entry;
    }
    if (dataSize === 0 || this.src.skipNow?.(dataSize + blockPadding(dataSize))) return entry;
    return skipBody(this.src, dataSize, entry.tarName, headerOffset).then(() => entry);
  }
}

/** A metadata header's data (copied: it is kept until the next entry and must not pin an upstream chunk), at once when in memory. */
function metaBody(src: ByteReader, raw: RawHeader, max: number, offset: number): Buffer | Promise<Buffer> {
  if (raw.size <= max) {
    const data = src.takeNow?.(raw.size);
    if (data) {
      const copy = Buffer.from(data);
      const padding = blockPadding(raw.size);
      if (padding === 0 || src.skipNow?.(padding)) return copy;
      return skipExact(src, padding, metaWhat(raw)).then(() => copy);
    }
  }
  return readMetaBody(src, raw, max, offset);
}

function isByteReader(input: AsyncIterable<Buffer | Uint8Array | string> | ByteReader): input is ByteReader {
  return typeof (input as ByteReader).readSome === 'function';
}

type Built = { entry: TarEntry; dataSize: number };

/**
 * A reader's last header mtime as a Timestamp: the next member with the same
 * time (most of a layer: files extracted or packaged together) gets the same
 * object, frozen, instead of one of its own — what a consumer keeps per
 * member (the ext4 writer's tree) is then smaller (issue 11).
 */
class HeaderTimes {
  private sec = 0;
  private last: Timestamp | undefined;

  mtimeOf(sec: number): Timestamp {
    if (this.last !== undefined && sec === this.sec) return this.last;
    this.sec = sec;
    return (this.last = Object.freeze({ sec, nsec: 0 }));
  }
}

/** The Built of an entry built at once: `into` filled and returned (buildEntry says why). */
function built(into: Built, entry: TarEntry, dataSize: number): Built {
  into.entry = entry;
  into.dataSize = dataSize;
  return into;
}

/**
 * The entry a header (with its pending metadata headers) describes. Synchronous
 * but for sparse maps that continue past the header (a promise then): an await
 * per member was a visible share of the reader's time on many small files.
 */
function buildEntry(
  src: ByteReader,
  raw: RawHeader,
  pending: Pending,
  offset: number,
  options: ReadTarOptions,
  into: Built,
  reuse: HeaderTimes,
): Built | Promise<Built> {
  // No closures nor context objects per member here, only on the paths that throw:
  // without TurboFan each is an allocation (~6,000 per node_modules layer; issue 11, round 8).
  // For the same reason an entry built at once comes back in `into`, the reader's own
  // (it hands the entry out before it builds another); one that must wait gets its own.
  let pax: PaxOverrides;
  try {
    pax = collectPax(pending.pax);
  } catch (err) {
    if (!(err instanceof PaxError)) throw err;
    throw new LcowError('EBADTAR', `${err.message} for '${rawNameOf(raw)}'`, { entry: rawNameOf(raw), offset, key: err.key });
  }
  let sparseInfo: ReturnType<typeof sparseFromPax>;
  try {
    sparseInfo = raw.typeflag === '0' || raw.typeflag === '7' ? sparseFromPax(pax.sparse) : undefined; // a sparse member is a regular one
  } catch (err) {
    sparseFail(err, rawNameOf(raw), offset);
  }

  const nameBytes = sparseInfo?.name ?? pax.path ?? pending.longName ?? raw.name;
  const tarName = decodeText(nameBytes);
  const dataSize = pax.size ?? raw.size;

  const mtime: Timestamp = pax.mtime ?? reuse.mtimeOf(raw.mtime);
  const meta: TarEntryMeta = {
    mode: raw.mode,
    uid: pax.uid ?? raw.uid,
    gid: pax.gid ?? raw.gid,
    mtime,
    atime: pax.atime ?? (raw.atime ? { sec: raw.atime, nsec: 0 } : mtime),
    ctime: pax.ctime ?? (raw.ctime ? { sec: raw.ctime, nsec: 0 } : mtime),
    xattrs: pax.xattrs,
  };
  if (meta.xattrs.size > 0) {
    for (const name of meta.xattrs.keys()) {
      if (name === '' || name.includes('\0')) throw new LcowError('EBADTAR', `invalid xattr name on '${tarName}'`, { entry: tarName, offset, xattr: name });
    }
  }

  const cleaned = cleanPath(tarName);
  if (!cleaned.ok)
    throw new LcowError('EBADTAR', `${describePathProblem(cleaned.problem)}: '${tarName}'`, { entry: tarName, offset, problem: cleaned.problem });
  const path = cleaned.path;

  const typeKind = KIND_OF_TYPEFLAG[raw.typeflag];
  if (typeKind === undefined) {
    throw new LcowError('EBADTAR', `unsupported tar entry type '${printable(raw.typeflag)}' for '${tarName}'`, {
      entry: tarName,
      offset,
      typeflag: raw.typeflag,
    });
  }
  if (raw.typeflag === GNU_SPARSE && !raw.gnuSparse)
    throw new LcowError('EBADTAR', `GNU sparse entry '${tarName}' outside a GNU-format header`, { entry: tarName, offset });
  // Pre-POSIX tars mark directories by a trailing slash on a regular entry.
  const kind = typeKind === 'file' && raw.typeflag !== GNU_SPARSE && tarName.endsWith('/') && !sparseInfo ? 'dir' : typeKind;
  if (path === '' && kind !== 'dir')
    throw new LcowError('EBADTAR', `the root of the archive must be a directory, '${tarName}' is a ${kind}`, { entry: tarName, offset });

  const linkBytes = pax.linkpath ?? pending.longLink ?? raw.linkname;
  switch (kind) {
    case 'file': {
      // Maps that continue past the header are read first (the only reads here): asynchronously, and rarely.
      if (raw.gnuSparse?.isExtended || sparseInfo?.version === '1.0') {
        return fileWithReadMap(src, raw, sparseInfo, { path, tarName, meta, dataSize, offset }, options);
      }
      let size = dataSize;
      let sparse: SparseRegion[] | undefined;
      try {
        if (raw.gnuSparse) {
          size = raw.gnuSparse.realSize;
          sparse = normaliseSparse([...raw.gnuSparse.regions], size, dataSize);
        } else if (sparseInfo) {
          size = sparseInfo.realSize;
          sparse = normaliseSparse(sparseInfo.regions, size, dataSize);
        }
      } catch (err) {
        sparseFail(err, tarName, offset);
      }
      return fileBuilt(path, tarName, meta, dataSize, offset, size, sparse, options, into);
    }
    case 'dir':
      return built(into, { kind: 'dir', path, tarName, meta }, dataSize);
    case 'hardlink': {
      const target = decodeText(linkBytes);
      const t = cleanPath(target);
      if (!t.ok)
        throw new LcowError('EBADTAR', `hard link target: ${describePathProblem(t.problem)}: '${target}'`, {
          entry: tarName,
          offset,
          target,
          problem: t.problem,
        });
      if (t.path === '') throw new LcowError('EBADTAR', `hard link '${tarName}' has no target`, { entry: tarName, offset, target });
      return built(into, { kind: 'hardlink', path, tarName, meta, target: t.path }, dataSize);
    }
    case 'symlink': {
      const target = decodeText(linkBytes);
      if (target === '' || target.includes('\0'))
        throw new LcowError('EBADTAR', `symlink '${tarName}' has an empty or invalid target`, { entry: tarName, offset });
      // Linux symlinks are always 0777 (their bits are never checked); tars
      // made elsewhere (macOS: 0755) would otherwise give odd-looking images.
      meta.mode |= 0o777;
      return built(into, { kind: 'symlink', path, tarName, meta, target }, dataSize);
    }
    case 'char':
    case 'block':
      return built(into, { kind, path, tarName, meta, major: raw.devmajor, minor: raw.devminor }, dataSize);
    case 'fifo':
      return built(into, { kind: 'fifo', path, tarName, meta }, dataSize);
  }
}

/** The header's own name, for messages only. */
function rawNameOf(raw: RawHeader): string {
  return raw.name.toString('latin1');
}

function sparseFail(err: unknown, name: string, offset: number): never {
  if (err instanceof SparseError || err instanceof HeaderError)
    throw new LcowError('EBADTAR', `bad sparse map for '${name}': ${err.message}`, { entry: name, offset }, { cause: err });
  throw err;
}

interface FileParts {
  path: string;
  tarName: string;
  meta: TarEntryMeta;
  /** Bytes of the member's data in the archive. */
  dataSize: number;
  /** The member's header offset (for messages). */
  offset: number;
}

function fileBuilt(
  path: string,
  tarName: string,
  meta: TarEntryMeta,
  dataSize: number,
  offset: number,
  size: number,
  sparse: SparseRegion[] | undefined,
  options: ReadTarOptions,
  /** The reader's holder when built at once; a member that had to wait gets its own. */
  into?: Built,
): Built {
  checkSize(size, options.maxFileSizeBytes, tarName, offset);
  const entry: TarFileEntry = { kind: 'file', path, tarName, meta, size, body: emptyBody, dataOffset: 0 };
  if (sparse) entry.sparse = sparse;
  return into ? built(into, entry, dataSize) : { entry, dataSize };
}

/** A sparse member whose map goes on past its header: GNU extension blocks, or a PAX 1.0 map at the start of the data. */
async function fileWithReadMap(
  src: ByteReader,
  raw: RawHeader,
  sparseInfo: ReturnType<typeof sparseFromPax>,
  f: FileParts,
  options: ReadTarOptions,
): Promise<Built> {
  let size: number;
  let sparse: SparseRegion[];
  let dataSize = f.dataSize;
  try {
    if (raw.gnuSparse) {
      const regions = [...raw.gnuSparse.regions];
      let extended = raw.gnuSparse.isExtended;
      while (extended) {
        const ext = await src.read(BLOCK);
        if (ext.length < BLOCK) throw truncated(f.tarName, src.position);
        regions.push(...decodeSparseArray(ext, 0, 21));
        if (regions.length > MAX_SPARSE_REGIONS) throw new SparseError('too many sparse regions');
        extended = ext[504] !== 0;
      }
      size = raw.gnuSparse.realSize;
      sparse = normaliseSparse(regions, size, dataSize);
    } else {
      const info = sparseInfo!;
      const parser = new Sparse10MapParser();
      while (!parser.done) {
        if ((parser.blocksConsumed + 1) * BLOCK > dataSize) throw new SparseError('GNU sparse 1.0 map runs past the entry data');
        const b = await src.read(BLOCK);
        if (b.length < BLOCK) throw truncated(f.tarName, src.position);
        parser.push(b);
      }
      dataSize -= parser.blocksConsumed * BLOCK;
      size = info.realSize;
      sparse = normaliseSparse(parser.regions, size, dataSize);
    }
  } catch (err) {
    sparseFail(err, f.tarName, f.offset);
  }
  return fileBuilt(f.path, f.tarName, f.meta, dataSize, f.offset, size, sparse, options);
}

const NO_BYTES = Buffer.alloc(0);
const emptyBody: TarFileBody = { async *[Symbol.asyncIterator]() {}, takeAllNow: () => NO_BYTES };
/** A placeholder Built's entry before the first is built (never handed out). */
const emptyEntry: TarEntry = {
  kind: 'fifo',
  path: '',
  tarName: '',
  meta: { mode: 0, uid: 0, gid: 0, mtime: { sec: 0, nsec: 0 }, atime: { sec: 0, nsec: 0 }, ctime: { sec: 0, nsec: 0 }, xattrs: new Map() },
};

/**
 * A member's body as slices of the input. An iterator object rather than an
 * async generator: most members are small files read in one slice, and a
 * generator's machinery per member was a visible share of the reader's time.
 */
class Body implements TarFileBody, AsyncIterator<Buffer> {
  constructor(
    private readonly src: ByteReader,
    /** Body bytes not handed out yet. */
    public remaining: number,
    readonly tarName: string,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }

  takeAllNow(): Buffer | undefined {
    if (this.remaining === 0) return NO_BYTES;
    if (this.remaining > MAX_BODY_SLICE) return undefined;
    const chunk = this.src.takeNow?.(this.remaining);
    if (chunk) this.remaining = 0;
    return chunk;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    if (this.remaining === 0) return { done: true, value: undefined };
    const n = Math.min(this.remaining, MAX_BODY_SLICE);
    const chunk = this.src.takeNow?.(n) ?? (await this.src.readSome(n));
    if (chunk.length === 0) throw truncated(this.tarName, this.src.position);
    this.remaining -= chunk.length;
    return { done: false, value: chunk };
  }
}

function checkSize(size: number, max: number | undefined, entry: string, offset: number): void {
  if (max !== undefined && size > max) {
    throw new LcowError('ETOOBIG', `'${entry}' is ${size} bytes, more than the maximum of ${max}`, { entry, offset, size, max });
  }
}

function metaWhat(raw: RawHeader): string {
  return raw.typeflag === META_TYPEFLAG.gnuLongName ? 'GNU long name' : raw.typeflag === META_TYPEFLAG.gnuLongLink ? 'GNU long link' : 'PAX header';
}

async function readMetaBody(src: ByteReader, raw: RawHeader, max: number, offset: number): Promise<Buffer> {
  const what = metaWhat(raw);
  if (raw.size > max)
    throw new LcowError('ETOOBIG', `${what} of ${raw.size} bytes is larger than ${max}`, { entry: raw.name.toString('latin1'), offset, size: raw.size, max });
  const data = await src.read(raw.size);
  if (data.length < raw.size) throw truncated(`${what} at offset ${offset}`, src.position);
  await skipExact(src, blockPadding(raw.size), what);
  // Copy: the data is kept until the next entry, and must not pin an upstream chunk.
  return Buffer.from(data);
}

async function skipBody(src: ByteReader, size: number, tarName: string, offset: number): Promise<void> {
  const total = size + blockPadding(size);
  if ((await src.skip(total)) < total) throw truncated(tarName, offset);
}

async function skipExact(src: ByteReader, n: number, tarName: string): Promise<void> {
  if (n > 0 && (await src.skip(n)) < n) throw truncated(tarName, src.position);
}

function truncated(entry: string | undefined, offset: number): LcowError {
  return new LcowError('EBADTAR', `unexpected end of archive in '${entry ?? '(header)'}'`, { entry, offset, truncated: true });
}

function describePending(p: Pending): string | undefined {
  if (p.longName) return p.longName.toString('latin1');
  if (p.longLink || p.pax.length) return '(extended header)';
  return undefined;
}

/** Names and link targets are bytes: as exact text (UTF-8, stray bytes as U+DC80..U+DCFF; see ../byte-names.ts), never rewritten. */
function decodeText(bytes: Buffer): string {
  return bytesToText(byteStringOf(bytes));
}

function printable(c: string): string {
  const code = c.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? c : `\\x${code.toString(16).padStart(2, '0')}`;
}
