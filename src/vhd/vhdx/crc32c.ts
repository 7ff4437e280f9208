/**
 * CRC-32C (Castagnoli), the checksum VHDX uses for its headers, region tables,
 * log entries and metadata. Reflected polynomial 0x82F63B78, initial value and
 * final xor 0xFFFFFFFF — the same as `qemu/crc32c.h` and the iSCSI CRC.
 */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  // In range by construction: i < buf.length, and the table has 256 entries.
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * The VHDX rule for a structure's checksum: CRC-32C over the whole structure
 * with its 4-byte checksum field taken as zero. `at` is that field's offset.
 */
export function checksumWithZeroedField(structure: Buffer, at: number): number {
  const copy = Buffer.from(structure);
  copy.writeUInt32LE(0, at);
  return crc32c(copy);
}

/** Write the checksum of `structure` (field at `at`) into the field itself. */
export function sealChecksum(structure: Buffer, at: number): void {
  structure.writeUInt32LE(0, at);
  structure.writeUInt32LE(crc32c(structure), at);
}
