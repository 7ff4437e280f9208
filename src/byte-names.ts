/**
 * File names are bytes: ext4 forbids only '/' and NUL in them, and a Linux
 * container may write any other byte sequence, UTF-8 or not. Two names that
 * differ only in bytes that are not UTF-8 (`caf\xe9`, `caf\xe8`) are two
 * files, and must stay two files through every walk, lookup and tar: this
 * root helper is the one representation ext4's reader, tar's writer and the
 * driver's host-side verbs share.
 *
 * Two forms carry them:
 *
 * - `ByteString`, inside walks: one char per byte (latin1). It is exact,
 *   cheap to cut from a directory block, a Map key as it is, and `<` and
 *   `Array.prototype.sort()` order it by bytes, which is the order tar
 *   output and moby's changes use (sorting a million names as Buffers with
 *   Buffer.compare took 9× as long).
 * - `string`, for people and public APIs: UTF-8, and where the bytes are not
 *   UTF-8, each stray byte as the lone surrogate U+DC80..U+DCFF (Python's
 *   `surrogateescape`, PEP 383). Valid UTF-8 never decodes to a lone
 *   surrogate, so the mapping is exact both ways and a name that is UTF-8
 *   reads as itself.
 */

declare const byteStringBrand: unique symbol;
/** A name or path as its raw bytes, one char per byte (latin1); see the file comment. */
export type ByteString = string & { readonly [byteStringBrand]: true };

const NON_ASCII = /[\u0080-\uffff]/;
const ESCAPED_BYTE = /[\udc80-\udcff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes [start, end) of `b` as a ByteString. */
export function byteStringOf(b: Buffer, start = 0, end = b.length): ByteString {
  return b.toString('latin1', start, end) as ByteString;
}

export function bytesOf(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** '/a' + 'b' → '/a/b'; '/' + 'b' → '/b'. */
export function joinBytePath(dir: ByteString, name: ByteString): ByteString {
  return (dir === '/' ? `/${name}` : `${dir}/${name}`) as ByteString;
}

/** '/a/./b/../c' → '/a/c', lexically: '..' stops at the root, so no path leaves it. */
export function normaliseBytePath(path: ByteString): ByteString {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return ('/' + parts.join('/')) as ByteString;
}

/** The bytes as text: UTF-8, stray bytes as U+DC80..U+DCFF. */
export function bytesToText(s: ByteString): string {
  if (!NON_ASCII.test(s)) return s;
  const b = bytesOf(s);
  try {
    return utf8.decode(b);
  } catch {
    return decodeEscaped(b);
  }
}

/** The inverse of bytesToText: a string's UTF-8 bytes, each U+DC80..U+DCFF that stands alone back to its byte. */
export function textToBytes(text: string): ByteString {
  if (!NON_ASCII.test(text)) return text as ByteString;
  return byteStringOf(textToBuffer(text));
}

/** textToBuffer(text).length without building the buffer (names are measured once per entry and per directory entry). */
export function textByteLength(text: string): number {
  return ESCAPED_BYTE.test(text) ? textToBuffer(text).length : Buffer.byteLength(text, 'utf8');
}

/**
 * Write `text`'s bytes (as textToBuffer gives them) into `out` at `at`; the
 * byte length. No Buffer per call for the usual name (no escaped byte).
 */
export function writeText(text: string, out: Buffer, at: number): number {
  if (!ESCAPED_BYTE.test(text)) return utf8Write(out, text, at);
  const bytes = textToBuffer(text);
  bytes.copy(out, at);
  return bytes.length;
}

type Utf8Write = (this: Buffer, text: string, at: number) => number;
/**
 * Buffer's own UTF-8 writer (what `buf.write(text, at)` ends in), called
 * directly: Buffer.prototype.write first checks its arguments in JavaScript,
 * and without TurboFan each check allocates (an arguments array in Node's
 * validator wrapper) — a directory entry per name at finish (issue 11).
 * Undocumented, so `write` where a Node lacks it; same result either way.
 */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;
function utf8Write(out: Buffer, text: string, at: number): number {
  return nativeUtf8Write === undefined ? out.write(text, at, 'utf8') : nativeUtf8Write.call(out, text, at);
}

export function textToBuffer(text: string): Buffer {
  if (!ESCAPED_BYTE.test(text)) return Buffer.from(text, 'utf8');
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a surrogate pair: an astral character, not an escaped byte
      continue;
    }
    if (c < 0xdc80 || c > 0xdcff) continue;
    parts.push(Buffer.from(text.slice(from, i), 'utf8'), Buffer.of(c - 0xdc00));
    from = i + 1;
  }
  parts.push(Buffer.from(text.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

/** Length of the valid UTF-8 sequence starting at b[i], or 0 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
function sequenceLength(b: Buffer, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

function decodeEscaped(b: Buffer): string {
  let out = '';
  let from = 0;
  let i = 0;
  while (i < b.length) {
    const n = sequenceLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', from, i) + String.fromCharCode(0xdc00 + b[i]!);
    i++;
    from = i;
  }
  return out + b.toString('utf8', from);
}
