/**
 * ext4 timestamps: a signed 32-bit seconds field, and (in large inodes) an
 * `_extra` word whose low 2 bits extend the seconds to 34 bits (epoch bits)
 * and whose upper 30 bits are nanoseconds. Seconds = signed32(lo) +
 * epoch × 2^32, which covers 1901-12-13 to 2446-05-10 — what the kernel
 * decodes since 4.x (ext4_decode_extra_time).
 */
export interface Ext4Time {
  sec: number;
  nsec: number;
}

export function decodeTime(lo: number, extra: number | undefined): Ext4Time {
  const signed = lo | 0;
  if (extra === undefined) return { sec: signed, nsec: 0 };
  return { sec: signed + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
}
