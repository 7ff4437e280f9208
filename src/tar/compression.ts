/**
 * Archives arrive as plain tar, tar+gzip or tar+zstd (OCI media types). The
 * format is recognised by its magic bytes, not by a file name or a media
 * type, so the caller never has to say. zstd: see zstd.ts (Node's zlib, or
 * the zstd program where this Node has none). The reader does not call this:
 * decompression is the caller's step (the converter hashes what comes out).
 */
import { LcowError } from '../errors.js';
import { nodeZlib, throughZlib } from './zlib-pipe.js';
import { decompressZstd, zstdSupport, zstdUnsupported } from './zstd.js';

export type Compression = 'none' | 'gzip' | 'zstd';

export function detectCompression(head: Buffer): Compression | 'xz' | 'bzip2' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x28b52ffd) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

function toBuffer(v: Buffer | Uint8Array | string): Buffer {
  return Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

export interface DecompressOptions {
  /**
   * What to decode with when the first bytes match no magic. For a media
   * type's word: a zstd stream may begin with a skippable frame, which has no
   * zstd magic (pzstd writes one). Empty input is never decoded.
   */
  assume?: Compression;
}

/**
 * Peek at the first bytes and return the tar byte stream: the input itself
 * when it is plain tar, or the input through a decompressor. Decompressor
 * failures (corrupt or truncated gzip) surface as EBADTAR.
 */
export async function* decompress(input: AsyncIterable<Buffer | Uint8Array | string>, options: DecompressOptions = {}): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  // Collect at least 6 bytes (or the whole input if shorter) to recognise the magic.
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < 6) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = toBuffer(r.value);
    head.push(b);
    headLen += b.length;
  }
  // One chunk (a file's first read, always): used as it is. A copy would
  // cost a fresh 512 KiB (page faults: ~1.5 ms on this project's VMs) and
  // take the chunk out of the digest's memory (digest/lane-hash.ts).
  const first = head.length === 1 ? head[0]! : Buffer.concat(head, headLen);
  const detected = detectCompression(first);
  const kind = detected === 'none' && first.length > 0 ? (options.assume ?? 'none') : detected;
  // `copy`: zlib holds on to several input chunks at once, so chunks from a
  // buffer-reusing source (the converter's readFileChunks) must be copied before they go in.
  const rest = async function* (copy: boolean): AsyncGenerator<Buffer> {
    if (first.length) yield copy && head.length === 1 ? Buffer.from(first) : first;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      const b = toBuffer(r.value);
      yield copy ? Buffer.from(b) : b;
    }
  };
  if (kind === 'none') {
    yield* rest(false);
    return;
  }
  if (kind === 'gzip') {
    yield* throughZlib(rest(true), nodeZlib().createGunzip(), 'gzip');
    return;
  }
  if (kind === 'zstd' && zstdSupport()) {
    yield* decompressZstd(rest(true));
    return;
  }
  await it.return?.();
  if (kind === 'zstd') throw zstdUnsupported();
  throw new LcowError('EUNSUPPORTED', `${kind}-compressed input is not supported; decompress it first`, { compression: kind });
}
