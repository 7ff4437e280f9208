/**
 * Read a dynamic (or fixed) VHDX: choose the current header, replay the log
 * into an overlay if it has one, find the BAT and metadata through the region
 * table, and serve reads block by block through the BAT. Blocks that are not
 * present, zero, unmapped or undefined read as zeros.
 */
import type { FileHandle } from 'node:fs/promises';
import { LcowError } from '../../errors.js';
import type { BlockSource } from '../block-source.js';
import { decodeBatEntry } from './bat.js';
import {
  BAT_REGION_GUID,
  HEADER_OFFSETS,
  HEADER_SIZE,
  METADATA_REGION_GUID,
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT,
  REGION_TABLE_OFFSETS,
  REGION_TABLE_SIZE,
  SB_BLOCK_PRESENT,
  batEntryCount,
  chunkRatio,
  payloadBatIndex,
} from './constants.js';
import { decodeHeader, type VhdxHeader } from './header.js';
import { replayLog } from './log.js';
import { decodeMetadata, type VhdxMetadata } from './metadata.js';
import { decodeRegionTable, type RegionEntry } from './region-table.js';
import { ZERO_GUID } from './guid.js';
import { openImageFile } from './open-file.js';

export interface VhdxInfo {
  header: VhdxHeader;
  metadata: VhdxMetadata;
  regions: RegionEntry[];
  /** Log entries replayed into the read overlay (0 for a clean file). */
  replayedLogEntries: number;
}

export interface VhdxSource extends BlockSource {
  readonly info: VhdxInfo;
}

class VhdxReader implements VhdxSource {
  readonly size: number;
  private readonly ratio: number;

  constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
    private readonly fileSize: number,
    readonly info: VhdxInfo,
    private readonly bat: Buffer,
    private readonly overlay: Map<number, Buffer>,
  ) {
    this.size = info.metadata.virtualDiskSize;
    this.ratio = chunkRatio(info.metadata.blockSize, info.metadata.logicalSectorSize);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new LcowError('EBADIMAGE', `read of ${length} bytes at ${offset} is outside the ${this.size}-byte disk`, { file: this.file, offset, length });
    }
    const out = Buffer.alloc(length);
    const bs = this.info.metadata.blockSize;
    let pos = offset;
    while (pos < offset + length) {
      const block = Math.floor(pos / bs);
      const inBlock = pos - block * bs;
      const n = Math.min(bs - inBlock, offset + length - pos);
      const e = decodeBatEntry(this.bat, payloadBatIndex(block, this.ratio));
      if (e.state === PAYLOAD_BLOCK_FULLY_PRESENT) {
        await this.readFile(e.fileOffset + inBlock, n, out, pos - offset);
      } else if (e.state === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
        await this.readPartial(block, e.fileOffset, inBlock, n, out, pos - offset);
      }
      // NOT_PRESENT, UNDEFINED, ZERO, UNMAPPED: zeros (no parent to defer to)
      pos += n;
    }
    return out;
  }

  /**
   * PARTIALLY_PRESENT is only defined for differencing disks (which are
   * refused at open): sectors whose sector-bitmap bit is clear would come
   * from the parent. With no parent they read as zeros; when the sector
   * bitmap block itself is absent the block is read as fully present.
   */
  private async readPartial(block: number, blockOffset: number, inBlock: number, n: number, out: Buffer, outAt: number): Promise<void> {
    const sbIndex = Math.floor(block / this.ratio) * (this.ratio + 1) + this.ratio;
    const sb = decodeBatEntry(this.bat, sbIndex);
    if (sb.state !== SB_BLOCK_PRESENT) return this.readFile(blockOffset + inBlock, n, out, outAt);
    const ss = this.info.metadata.logicalSectorSize;
    const firstSector = (block % this.ratio) * (this.info.metadata.blockSize / ss) + Math.floor(inBlock / ss);
    const lastSector = (block % this.ratio) * (this.info.metadata.blockSize / ss) + Math.floor((inBlock + n - 1) / ss);
    const bits = await this.readRaw(sb.fileOffset + Math.floor(firstSector / 8), Math.floor(lastSector / 8) - Math.floor(firstSector / 8) + 1);
    const data = Buffer.alloc(n);
    await this.readFile(blockOffset + inBlock, n, data, 0);
    for (let s = firstSector; s <= lastSector; s++) {
      const bit = ((bits[Math.floor(s / 8) - Math.floor(firstSector / 8)] ?? 0) >> (s % 8)) & 1;
      if (!bit) continue;
      const sStart = (s - firstSector) * ss - (inBlock % ss);
      const from = Math.max(0, sStart);
      const to = Math.min(n, sStart + ss);
      data.copy(out, outAt + from, from, to);
    }
  }

  private async readFile(position: number, length: number, out: Buffer, outAt: number): Promise<void> {
    (await this.readRaw(position, length)).copy(out, outAt);
  }

  /** Raw file bytes with the replayed log overlay applied; bytes past EOF read as zeros (QEMU may leave a short last block). */
  private async readRaw(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    const avail = Math.max(0, Math.min(length, this.fileSize - position));
    let done = 0;
    while (done < avail) {
      const { bytesRead } = await this.fh.read(buf, done, avail - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (this.overlay.size) applyOverlay(this.overlay, position, buf);
    return buf;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

function applyOverlay(overlay: Map<number, Buffer>, position: number, buf: Buffer): void {
  const S = 4096;
  for (let s = Math.floor(position / S) * S; s < position + buf.length; s += S) {
    const sector = overlay.get(s);
    if (!sector) continue;
    const from = Math.max(s, position);
    const to = Math.min(s + S, position + buf.length);
    sector.copy(buf, from - position, from - s, to - s);
  }
}

async function readAt(fh: FileHandle, position: number, length: number, fileSize: number, file: string): Promise<Buffer> {
  if (position < 0 || position + length > fileSize) {
    throw new LcowError('EBADIMAGE', `VHDX structure at ${position} (+${length}) lies past the end of the file`, { file, position, length });
  }
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf;
}

/** Open a VHDX for reading. Throws EBADIMAGE for a damaged file, EUNSUPPORTED for a differencing disk. */
export async function openVhdx(path: string): Promise<VhdxSource> {
  const fh = await openImageFile(path);
  try {
    return await parse(fh, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

async function parse(fh: FileHandle, file: string): Promise<VhdxSource> {
  const bad = (why: string, ctx: Record<string, unknown> = {}): LcowError => new LcowError('EBADIMAGE', `VHDX: ${why}`, { file, ...ctx });
  const fileSize = (await fh.stat()).size;
  if (fileSize < 1 * MiB) throw bad('file too small');
  const ident = await readAt(fh, 0, 8, fileSize, file);
  if (ident.toString('latin1') !== 'vhdxfile') throw bad('no "vhdxfile" signature');

  // Both header copies are checked; the valid one with the larger sequence number is current.
  const headers = await Promise.all(HEADER_OFFSETS.map(async (o) => decodeHeader(await readAt(fh, o, HEADER_SIZE, fileSize, file))));
  const valid = headers.filter((h): h is VhdxHeader => h !== undefined);
  if (valid.length === 0) throw bad('neither header has a valid signature and CRC-32C');
  const header = valid.reduce((a, b) => (b.sequenceNumber > a.sequenceNumber ? b : a));
  if (header.version !== 1) throw new LcowError('EUNSUPPORTED', `VHDX header version ${header.version}`, { file });

  let overlay = new Map<number, Buffer>();
  let replayed = 0;
  if (header.logGuid !== ZERO_GUID) {
    if (header.logVersion !== 0 || header.logLength === 0 || header.logLength % MiB !== 0 || header.logOffset % MiB !== 0) {
      throw bad('log region is malformed', { logOffset: header.logOffset, logLength: header.logLength });
    }
    const log = await readAt(fh, header.logOffset, header.logLength, fileSize, file);
    const r = replayLog(log, header.logGuid);
    if (!r) throw bad('the log needs replay but its entries are damaged');
    overlay = r.sectors;
    replayed = r.entries;
  }
  const readMeta = async (position: number, length: number): Promise<Buffer> => {
    const b = await readAt(fh, position, length, fileSize, file);
    if (overlay.size) applyOverlay(overlay, position, b);
    return b;
  };

  const tables = await Promise.all(REGION_TABLE_OFFSETS.map(async (o) => decodeRegionTable(await readMeta(o, REGION_TABLE_SIZE))));
  const regions = tables.find((t): t is RegionEntry[] => t !== undefined);
  if (!regions) throw bad('neither region table has a valid signature and CRC-32C');
  for (const r of regions) {
    if (r.required && r.guid !== BAT_REGION_GUID && r.guid !== METADATA_REGION_GUID) {
      throw new LcowError('EUNSUPPORTED', `VHDX requires unknown region ${r.guid}`, { file, guid: r.guid });
    }
  }
  const batRegion = regions.find((r) => r.guid === BAT_REGION_GUID);
  const metaRegion = regions.find((r) => r.guid === METADATA_REGION_GUID);
  if (!batRegion || !metaRegion) throw bad('BAT or metadata region missing');
  if (metaRegion.length > 64 * MiB) throw bad('metadata region too large');

  const metadata = decodeMetadata(await readMeta(metaRegion.fileOffset, metaRegion.length), file);
  const entries = batEntryCount(metadata.virtualDiskSize, metadata.blockSize, metadata.logicalSectorSize);
  // QEMU sizes the BAT with a sector-bitmap entry for the last chunk too; accept either as long as the payload entries fit.
  if (batRegion.length < entries * 8) throw bad(`BAT region holds ${batRegion.length / 8} entries, need ${entries}`);
  const bat = await readMeta(batRegion.fileOffset, Math.min(batRegion.length, Math.ceil(((entries + 1) * 8) / 4096) * 4096, batRegion.length));

  return new VhdxReader(fh, file, fileSize, { header, metadata, regions, replayedLogEntries: replayed }, bat, overlay);
}
