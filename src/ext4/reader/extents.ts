/**
 * The extent tree (`ext4_extent_header`, `ext4_extent_idx`, `ext4_extent`):
 * its root is the inode's 60-byte i_block (a header and 4 entries), inner
 * nodes and leaves are whole blocks.
 *
 *   header (12 bytes): magic 0xF30A u16, entries u16, max u16, depth u16, generation u32
 *   index  (12 bytes): logical block u32, child block lo u32, child block hi u16, unused u16
 *   leaf   (12 bytes): logical block u32, length u16 (> 32768: uninitialised,
 *                      length − 32768), start hi u16, start lo u32
 *
 * A node block may end with a 4-byte checksum tail (metadata_csum); `max`
 * already excludes it.
 */
import { LcowError } from '../../errors.js';
import { normaliseRuns, type MappedRun, type ReadBlock } from './file-map.js';

const EXTENT_MAGIC = 0xf30a;
/** The kernel never builds deeper trees (EXT4_MAX_EXTENT_DEPTH). */
const MAX_DEPTH = 5;
const INIT_MAX_LEN = 32768;

export interface ExtentHeader {
  entries: number;
  max: number;
  depth: number;
}

export function decodeExtentHeader(node: Buffer): ExtentHeader | undefined {
  if (node.length < 12 || node.readUInt16LE(0) !== EXTENT_MAGIC) return undefined;
  const h = { entries: node.readUInt16LE(2), max: node.readUInt16LE(4), depth: node.readUInt16LE(6) };
  if (h.entries > h.max || 12 + h.max * 12 > node.length) return undefined;
  return h;
}

/**
 * Walk the tree rooted at `root` (i_block) and return every leaf extent.
 * Corrupt trees (bad magic, wrong depth, a block seen twice, a block past
 * the volume) are EBADIMAGE; the walk visits each block at most once.
 */
export async function readExtentTree(root: Buffer, readBlock: ReadBlock, blocksCount: number, ino: number): Promise<MappedRun[]> {
  const bad = (why: string): LcowError => new LcowError('EBADIMAGE', `inode ${ino}: extent tree ${why}`, { inode: ino });
  const runs: MappedRun[] = [];
  const seen = new Set<number>();
  const walk = async (node: Buffer, expectDepth: number | undefined): Promise<void> => {
    const h = decodeExtentHeader(node);
    if (!h) throw bad('node has a bad header');
    if (h.depth > MAX_DEPTH || (expectDepth !== undefined && h.depth !== expectDepth)) throw bad(`node depth ${h.depth}`);
    for (let i = 0; i < h.entries; i++) {
      const at = 12 + i * 12;
      if (h.depth === 0) {
        const rawLen = node.readUInt16LE(at + 4);
        const uninit = rawLen > INIT_MAX_LEN;
        const length = uninit ? rawLen - INIT_MAX_LEN : rawLen;
        const physical = node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8);
        if (length === 0) continue;
        if (physical + length > blocksCount) throw bad(`extent at block ${physical} (+${length}) is outside the volume`);
        runs.push({ logical: node.readUInt32LE(at), physical, length, uninit });
      } else {
        const child = node.readUInt32LE(at + 4) + node.readUInt16LE(at + 8) * 2 ** 32;
        if (child === 0 || child >= blocksCount) throw bad(`index points at block ${child}`);
        if (seen.has(child)) throw bad(`block ${child} is referenced twice`);
        seen.add(child);
        await walk(await readBlock(child), h.depth - 1);
      }
    }
  };
  await walk(root, undefined);
  return normaliseRuns(runs);
}
