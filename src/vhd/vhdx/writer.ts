/**
 * Write a dynamic VHDX from a SparseImage: only payload blocks that hold a
 * non-zero byte are allocated, so a 20 GB empty ext4 sandbox is a few MiB on
 * disk. Written to a temporary name and renamed into place, so a failure
 * leaves nothing behind.
 *
 * File layout (every region 1 MiB-aligned, as the spec requires):
 *   0        file identifier ("vhdxfile", creator), headers at 64/128 KiB,
 *            region tables at 192/256 KiB
 *   1 MiB    log (1 MiB, empty: the headers' log GUID is zero)
 *   2 MiB    metadata region (1 MiB)
 *   3 MiB    BAT (rounded up to 1 MiB)
 *   then     payload blocks, in disk order
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { LcowError, hostFsError, isSystemError } from '../../errors.js';
import { writeAll } from '../../write-all.js';
import type { SparseImage } from '../sparse-image.js';
import { encodeBatEntry } from './bat.js';
import {
  BAT_REGION_GUID,
  DEFAULT_BLOCK_SIZE,
  DEFAULT_LOGICAL_SECTOR_SIZE,
  DEFAULT_PHYSICAL_SECTOR_SIZE,
  HEADER_OFFSETS,
  METADATA_REGION_GUID,
  MiB,
  PAYLOAD_BLOCK_FULLY_PRESENT,
  REGION_TABLE_OFFSETS,
  batEntryCount,
  chunkRatio,
  payloadBatIndex,
} from './constants.js';
import { encodeHeader } from './header.js';
import { randomGuid, ZERO_GUID } from './guid.js';
import { encodeMetadata } from './metadata.js';
import { encodeRegionTable } from './region-table.js';

export interface CreateVhdxOptions {
  /** Payload block size, a power of two from 1 to 256 MiB. Default 1 MiB. */
  blockSize?: number;
  /** 512 (default) or 4096. */
  logicalSectorSize?: 512 | 4096;
  physicalSectorSize?: 512 | 4096;
  /** Creator string in the file identifier. */
  creator?: string;
}

export interface CreateVhdxResult {
  path: string;
  /** Bytes the file occupies. */
  fileSize: number;
  virtualSize: number;
  /** Payload blocks written. */
  allocatedBlocks: number;
}

const LOG_OFFSET = 1 * MiB;
const LOG_LENGTH = 1 * MiB;
const METADATA_OFFSET = 2 * MiB;
const METADATA_LENGTH = 1 * MiB;
const BAT_OFFSET = 3 * MiB;

export async function createVhdx(path: string, image: SparseImage | { size: number }, options: CreateVhdxOptions = {}): Promise<CreateVhdxResult> {
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const lss = options.logicalSectorSize ?? DEFAULT_LOGICAL_SECTOR_SIZE;
  const pss = options.physicalSectorSize ?? DEFAULT_PHYSICAL_SECTOR_SIZE;
  const size = image.size;
  const runs = 'runs' in image ? image.runs : [];
  validate(path, size, runs, blockSize, lss);

  const ratio = chunkRatio(blockSize, lss);
  const entries = batEntryCount(size, blockSize, lss);
  const batLength = Math.ceil((entries * 8) / MiB) * MiB;
  const bat = Buffer.alloc(batLength);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx').catch((err: unknown) => {
    throw hostFsError(err, `cannot create ${tmp}`, { file: path });
  });
  let ok = false;
  try {
    // Payload: walk the runs block by block; a block is allocated only if some byte in it is non-zero.
    let next = BAT_OFFSET + batLength;
    let allocated = 0;
    const zero = Buffer.alloc(blockSize);
    const block = Buffer.alloc(blockSize);
    const nBlocks = Math.ceil(size / blockSize);
    let r = 0;
    let pos = 0; // everything before pos has been handled
    for (let first = runs[r]; first !== undefined; first = runs[r]) {
      const b = Math.floor(Math.max(pos, first.offset) / blockSize);
      if (b >= nBlocks) break;
      const start = b * blockSize;
      const end = start + blockSize;
      block.fill(0);
      // copy every run piece that overlaps [start, end); a run reaching past `end` is resumed on the next round
      let k = r;
      for (let run = runs[k]; run !== undefined && run.offset < end; run = runs[k]) {
        const from = Math.max(run.offset, start);
        const to = Math.min(run.offset + run.data.length, end);
        if (to > from) run.data.copy(block, from - start, from - run.offset, to - run.offset);
        if (run.offset + run.data.length <= end) k++;
        else break;
      }
      if (!block.equals(zero)) {
        await writeAll(fh, block, next);
        encodeBatEntry(bat, payloadBatIndex(b, ratio), { state: PAYLOAD_BLOCK_FULLY_PRESENT, fileOffset: next });
        next += blockSize;
        allocated++;
      }
      pos = end;
      r = k;
    }
    const fileSize = next;

    await writeAll(fh, fileIdentifier(options.creator ?? 'lcow-uvm'), 0);
    const fileWriteGuid = randomGuid();
    const dataWriteGuid = randomGuid();
    for (const [i, at] of HEADER_OFFSETS.entries()) {
      const h = encodeHeader({
        sequenceNumber: BigInt(i),
        fileWriteGuid,
        dataWriteGuid,
        logGuid: ZERO_GUID,
        logVersion: 0,
        version: 1,
        logLength: LOG_LENGTH,
        logOffset: LOG_OFFSET,
      });
      await writeAll(fh, h, at);
    }
    const regions = encodeRegionTable([
      { guid: BAT_REGION_GUID, fileOffset: BAT_OFFSET, length: batLength, required: true },
      { guid: METADATA_REGION_GUID, fileOffset: METADATA_OFFSET, length: METADATA_LENGTH, required: true },
    ]);
    for (const at of REGION_TABLE_OFFSETS) await writeAll(fh, regions, at);
    const meta = encodeMetadata({
      blockSize,
      leaveBlocksAllocated: false,
      hasParent: false,
      virtualDiskSize: size,
      page83: randomGuid(),
      logicalSectorSize: lss,
      physicalSectorSize: pss,
    });
    await writeAll(fh, meta, METADATA_OFFSET);
    await writeAll(fh, bat, BAT_OFFSET);
    // The metadata region's tail and the log are zeros: make sure the file covers them.
    await fh.truncate(fileSize);
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    ok = true;
    return { path, fileSize, virtualSize: size, allocatedBlocks: allocated };
  } catch (err) {
    // A full disk (ENOSPC) or any other failed write, typed; anything else (a bug) as it is. The temp file goes below.
    throw isSystemError(err) ? hostFsError(err, `cannot write ${path}`, { file: path }) : err;
  } finally {
    if (!ok) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    }
  }
}

function validate(path: string, size: number, runs: Array<{ offset: number; data: Buffer }>, blockSize: number, lss: number): void {
  const bad = (why: string): LcowError => new LcowError('EINVAL', `createVhdx: ${why}`, { file: path, size });
  if (!Number.isSafeInteger(size) || size <= 0 || size % lss !== 0) throw bad(`size ${size} must be a positive multiple of ${lss}`);
  if (size > 64 * 1024 ** 4) throw new LcowError('ETOOBIG', `createVhdx: ${size} bytes exceeds the VHDX maximum of 64 TiB`, { file: path, size });
  if ((blockSize & (blockSize - 1)) !== 0 || blockSize < MiB || blockSize > 256 * MiB) throw bad(`block size ${blockSize}`);
  let end = 0;
  for (const run of runs) {
    if (run.offset < end || run.offset + run.data.length > size) throw bad(`run at ${run.offset} overlaps, is out of order, or lies past the end`);
    end = run.offset + run.data.length;
  }
}

function fileIdentifier(creator: string): Buffer {
  const b = Buffer.alloc(64 * 1024);
  b.write('vhdxfile', 0, 'latin1');
  b.write(creator.slice(0, 255), 8, 'utf16le');
  return b;
}
