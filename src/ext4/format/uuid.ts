/** The 16-byte UUIDs in the superblock (and the verity superblock). */

/** Canonical text form: 8-4-4-4-12 hex digits. */
export function formatUuid(u: Buffer): string {
  const h = u.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The first 16 bytes of a hash as an RFC 4122 version-5-style (name-based, SHA) UUID: content-derived, so output is deterministic. */
export function uuidFromHash(hash: Buffer): Buffer {
  const u = Buffer.from(hash.subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x50;
  u[8] = (u[8]! & 0x3f) | 0x80;
  return u;
}
