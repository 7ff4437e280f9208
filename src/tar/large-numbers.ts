/**
 * Numeric header fields. Classic tar stores numbers as NUL/space-terminated
 * octal ASCII; GNU tar (and Go, and Python in GNU format) switch to a
 * big-endian two's-complement "base-256" encoding, flagged by the top bit of
 * the first byte, for values that do not fit: uids above 2097151, sizes of
 * 8 GiB and more, mtimes before 1970. Both are decoded here; the writer
 * encodes octal only and says in PAX what octal cannot (write-entry.ts).
 *
 * A value that is not representable exactly as a JS number (beyond 2^53) is
 * reported as `undefined` so that the caller can raise a typed error naming
 * the entry and the field; nothing here throws.
 */

/** Decode a numeric field; `undefined` when it is malformed or too large. */
export function parseNumeric(field: Buffer): number | undefined {
  return parseNumericAt(field, 0, field.length);
}

/**
 * The numeric field of `length` bytes at `start` of `block`, read in place: a
 * header has nine such fields and a subarray for each was a measurable share
 * of reading a many-file archive.
 */
export function parseNumericAt(block: Buffer, start: number, length: number): number | undefined {
  if (length === 0) return 0;
  if (block[start]! & 0x80) return parseBase256(block.subarray(start, start + length));
  return parseOctalAt(block, start, length);
}

/** Octal ASCII with optional leading spaces and trailing NULs/spaces. All-NUL / all-space means 0. */
export function parseOctal(field: Buffer): number | undefined {
  return parseOctalAt(field, 0, field.length);
}

/** parseOctal of the field of `length` bytes at `start`, read in place. */
export function parseOctalAt(block: Buffer, start: number, length: number): number | undefined {
  let i = start;
  const end = start + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) {
    // A leading NUL means an empty field (0); leading spaces are padding.
    if (block[i] === 0) return 0;
    i++;
  }
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) return undefined;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  // Only terminators may follow the digits.
  for (; i < end; i++) {
    const c = block[i]!;
    if (c !== 0 && c !== 0x20) return undefined;
  }
  if (digits === 0) return 0;
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Base-256: the first byte's top bit is the flag, its second-highest bit the
 * sign (0x80 positive, 0xff… negative, two's complement over the whole field).
 */
export function parseBase256(field: Buffer): number | undefined {
  const negative = (field[0]! & 0x40) !== 0;
  let value = 0n;
  for (let i = 0; i < field.length; i++) {
    let byte = field[i]!;
    if (i === 0) byte &= 0x7f; // strip the flag bit; the sign bit stays for two's complement
    value = (value << 8n) | BigInt(byte);
  }
  if (negative) value -= 1n << BigInt(field.length * 8 - 1);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
  return Number(value);
}

/** The largest value an octal field of `width` bytes holds (one byte is the terminating NUL). */
export function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

/** Write `value` as zero-padded octal digits and a NUL into `width` bytes at `offset` (the caller checks octalMax). */
export function encodeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  // Digit by digit into the buffer (no string): a header has five of these, and a diff writes a header per file.
  let v = Math.trunc(value);
  buf[offset + width - 1] = 0;
  for (let i = offset + width - 2; i >= offset; i--) {
    buf[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
}
