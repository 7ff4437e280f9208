/**
 * The VHDX metadata log (MS-VHDX 2.3) and its replay.
 *
 * A writer that changes metadata (BAT entries, headers of regions) first
 * appends a log entry, then applies it; after a crash the log must be
 * replayed before the file is read. A header whose log GUID is zero has
 * nothing to replay. Otherwise the log is a circular buffer of entries:
 *
 *   entry header (64 bytes): 0 "loge", 4 checksum (CRC-32C over the whole
 *     entry, field zeroed), 8 entry length u32 (multiple of 4 KiB), 12 tail
 *     u32 (log offset of the sequence's first entry), 16 sequence number u64,
 *     24 descriptor count u32, 28 reserved, 32 log GUID, 48 flushed file
 *     offset u64, 56 last file offset u64
 *   descriptors (32 bytes each, right after the header, padded to 4 KiB):
 *     "zero": 8 zero length u64, 16 file offset u64, 24 sequence number u64
 *     "desc": 4 trailing bytes u32, 8 leading bytes u64, 16 file offset, 24 sequence number
 *   data sectors (4 KiB each, one per "desc" in order): 0 "data", 4 sequence
 *     high u32, 8..4092 the sector's middle, 4092 sequence low u32 — the
 *     sector's first 8 bytes are the descriptor's leading bytes, its last 4
 *     the trailing bytes.
 *
 * This reader is read-only, so it replays into an overlay (file offset →
 * 4 KiB sector) that the file reads are patched with, and never writes.
 * QEMU leaves applied entries in the log with a non-zero GUID after a guest
 * wrote to the disk; replaying them again is harmless (replay is idempotent).
 */
import { crc32c } from './crc32c.js';
import { guidFromBytes } from './guid.js';

const SECTOR = 4096;

export interface LogOverlay {
  /** 4 KiB-aligned file offset → the sector's bytes after replay. */
  sectors: Map<number, Buffer>;
  /** Entries replayed. */
  entries: number;
}

interface Entry {
  at: number;
  length: number;
  tail: number;
  seq: bigint;
  buf: Buffer;
}

function readEntry(log: Buffer, at: number, logGuid: string): Entry | undefined {
  if (at + 64 > log.length) return undefined;
  if (log.toString('latin1', at, at + 4) !== 'loge') return undefined;
  const length = log.readUInt32LE(at + 8);
  if (length < SECTOR || length % SECTOR !== 0 || at + length > log.length) return undefined;
  if (guidFromBytes(log, at + 32) !== logGuid) return undefined;
  const buf = Buffer.from(log.subarray(at, at + length));
  const sum = buf.readUInt32LE(4);
  buf.writeUInt32LE(0, 4);
  if (crc32c(buf) !== sum) return undefined;
  buf.writeUInt32LE(sum, 4);
  const count = buf.readUInt32LE(24);
  const descSectors = Math.ceil((64 + count * 32) / SECTOR);
  const seq = buf.readBigUInt64LE(16);
  let dataSectors = 0;
  for (let i = 0; i < count; i++) {
    const d = 64 + i * 32;
    const sig = buf.toString('latin1', d, d + 4);
    if (sig === 'desc') dataSectors++;
    else if (sig !== 'zero') return undefined;
    if (buf.readBigUInt64LE(d + 24) !== seq) return undefined;
  }
  if ((descSectors + dataSectors) * SECTOR > length) return undefined;
  return { at, length, tail: buf.readUInt32LE(12), seq, buf };
}

/**
 * Find the active sequence of `log` (the log region's bytes) for `logGuid`
 * and replay it into an overlay. Returns an empty overlay when there is no
 * valid entry. `undefined` means the log is damaged past replay.
 */
export function replayLog(log: Buffer, logGuid: string): LogOverlay | undefined {
  // Walk every 4 KiB position; from each valid entry follow the chain of
  // entries whose sequence numbers increase by one. The longest-running,
  // highest-numbered chain whose head's tail points inside it is active.
  let best: { chain: Entry[]; head: Entry } | undefined;
  for (let start = 0; start < log.length; start += SECTOR) {
    const first = readEntry(log, start, logGuid);
    if (!first) continue;
    const chain: Entry[] = [first];
    let head = first;
    let at = (first.at + first.length) % log.length;
    for (let guard = 0; guard < log.length / SECTOR; guard++) {
      const next = readEntry(log, at, logGuid);
      if (!next || next.seq !== head.seq + 1n || next.at === first.at) break;
      chain.push(next);
      head = next;
      at = (next.at + next.length) % log.length;
    }
    // The active sequence runs from the head's tail to the head.
    const tailIdx = chain.findIndex((e) => e.at === head.tail);
    if (tailIdx < 0) continue;
    if (!best || head.seq > best.head.seq) best = { chain: chain.slice(tailIdx), head };
  }
  const sectors = new Map<number, Buffer>();
  if (!best) return { sectors, entries: 0 };
  for (const e of best.chain) {
    const count = e.buf.readUInt32LE(24);
    let data = Math.ceil((64 + count * 32) / SECTOR) * SECTOR;
    for (let i = 0; i < count; i++) {
      const d = 64 + i * 32;
      const fileOffset = Number(e.buf.readBigUInt64LE(d + 16));
      if (fileOffset % SECTOR !== 0) return undefined;
      if (e.buf.toString('latin1', d, d + 4) === 'zero') {
        const len = Number(e.buf.readBigUInt64LE(d + 8));
        if (len % SECTOR !== 0 || len > 2 ** 34) return undefined;
        for (let o = 0; o < len; o += SECTOR) sectors.set(fileOffset + o, Buffer.alloc(SECTOR));
      } else {
        const ds = e.buf.subarray(data, data + SECTOR);
        if (ds.toString('latin1', 0, 4) !== 'data') return undefined;
        const sector = Buffer.alloc(SECTOR);
        e.buf.copy(sector, 0, d + 8, d + 16); // leading bytes
        ds.copy(sector, 8, 8, SECTOR - 4);
        e.buf.copy(sector, SECTOR - 4, d + 4, d + 8); // trailing bytes
        sectors.set(fileOffset, sector);
        data += SECTOR;
      }
    }
  }
  return { sectors, entries: best.chain.length };
}
