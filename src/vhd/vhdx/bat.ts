/**
 * BAT entries (MS-VHDX 2.5): 64-bit little-endian words, bits 0–2 the state,
 * bits 20–63 the file offset in MiB. Payload entries are interleaved with one
 * sector-bitmap entry after every `chunkRatio` payload entries.
 */
export interface BatEntry {
  state: number;
  /** Byte offset in the file (a multiple of 1 MiB). */
  fileOffset: number;
}

export function decodeBatEntry(bat: Buffer, index: number): BatEntry {
  const at = index * 8;
  if (at + 8 > bat.length) return { state: 0, fileOffset: 0 };
  const lo = bat.readUInt32LE(at);
  const hi = bat.readUInt32LE(at + 4);
  // offset in MiB = bits 20..63 = (hi << 12) | (lo >>> 20)
  const mb = hi * 4096 + (lo >>> 20);
  return { state: lo & 7, fileOffset: mb * 1024 * 1024 };
}

export function encodeBatEntry(bat: Buffer, index: number, e: BatEntry): void {
  const mb = e.fileOffset / (1024 * 1024);
  if (!Number.isInteger(mb)) throw new RangeError(`BAT file offset ${e.fileOffset} is not MiB-aligned`);
  const lo = (((mb % 4096) << 20) | (e.state & 7)) >>> 0;
  const hi = Math.floor(mb / 4096);
  bat.writeUInt32LE(lo, index * 8);
  bat.writeUInt32LE(hi, index * 8 + 4);
}
