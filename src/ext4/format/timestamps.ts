/**
 * Inode timestamps: a 32-bit seconds field plus, in large inodes, an
 * `_extra` word whose low 2 bits extend the seconds (the "epoch") and whose
 * upper 30 bits are nanoseconds. The kernel decodes seconds as
 * `(s32)lo + (epoch << 32)` (ext4_decode_extra_time), so the epoch is the
 * difference between the real seconds and the signed low word, divided by
 * 2^32. That gives 1901-12-13 .. 2446-05-10 exactly; a naïve `sec >> 32`
 * epoch (the reference's bug) turns 1969 into 2378.
 */

/** Seconds since the epoch (may be negative, may exceed 2^31) plus nanoseconds. */
export interface Timestamp {
  sec: number;
  nsec: number;
}

const TWO_32 = 2 ** 32;
/** Smallest and largest seconds representable: [-2^31, 2^34 - 2^31). */
export const MIN_EXT4_SECONDS = -(2 ** 31);
export const MAX_EXT4_SECONDS = 3 * TWO_32 + (2 ** 31 - 1);

export interface EncodedTime {
  /** The 32-bit seconds word (i_mtime and friends), as an unsigned value. */
  lo: number;
  /** The extra word (i_mtime_extra and friends). */
  extra: number;
}

/** Encode seconds + nanoseconds; seconds out of range are clamped to the nearest representable time. */
export function encodeTime(t: Timestamp): EncodedTime {
  return encodeTimeInto(t, { lo: 0, extra: 0 });
}

/** encodeTime into `out`, returned: the inode encoder reuses one object for its four times. */
export function encodeTimeInto(t: Timestamp, out: EncodedTime): EncodedTime {
  let sec = Math.trunc(t.sec);
  let nsec = Math.trunc(t.nsec);
  if (!(nsec >= 0 && nsec < 1e9)) nsec = 0;
  if (sec < MIN_EXT4_SECONDS) {
    sec = MIN_EXT4_SECONDS;
    nsec = 0;
  } else if (sec > MAX_EXT4_SECONDS) {
    sec = MAX_EXT4_SECONDS;
    nsec = 999_999_999;
  }
  const lo = ((sec % TWO_32) + TWO_32) % TWO_32; // unsigned low word
  const signedLo = lo >= 2 ** 31 ? lo - TWO_32 : lo;
  const epoch = (sec - signedLo) / TWO_32; // 0..3 within the range above
  out.lo = lo;
  out.extra = ((nsec * 4) >>> 0) + epoch;
  return out;
}

/** `extra` is undefined for a small (128-byte) inode, which has only the seconds word. */
export function decodeTime(lo: number, extra: number | undefined): Timestamp {
  const signedLo = lo | 0;
  if (extra === undefined) return { sec: signedLo, nsec: 0 };
  return { sec: signedLo + (extra & 3) * TWO_32, nsec: extra >>> 2 };
}
