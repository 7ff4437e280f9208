/**
 * The ext2/ext3 block map, for inodes without the EXTENTS flag: i_block
 * holds 12 direct block numbers, then one single-, one double- and one
 * triple-indirect block. A zero pointer is a hole (for an indirect pointer:
 * a hole over its whole span). Consecutive blocks are merged into runs.
 */
import { LcowError } from '../../errors.js';
import { MappedBlockCount, normaliseRuns, type MappedRun, type ReadBlock } from './file-map.js';

export async function readBlockMap(
  iBlock: Buffer,
  readBlock: ReadBlock,
  blockSize: number,
  blocksCount: number,
  fileBlocks: number,
  ino: number,
): Promise<MappedRun[]> {
  const perBlock = blockSize / 4;
  const runs: MappedRun[] = [];
  const seen = new Set<number>();
  const count = new MappedBlockCount(blocksCount, ino);
  const add = (logical: number, physical: number): void => {
    if (physical >= blocksCount) throw new LcowError('EBADIMAGE', `inode ${ino}: block map points at block ${physical}, outside the volume`, { inode: ino });
    count.add(1);
    const last = runs[runs.length - 1];
    if (last && last.logical + last.length === logical && last.physical + last.length === physical) last.length++;
    else runs.push({ logical, physical, length: 1, uninit: false });
  };
  // level 0 = a data block; level n = a block of pointers covering perBlock^n blocks
  const visit = async (ptr: number, level: number, logical: number): Promise<void> => {
    if (ptr === 0 || logical >= fileBlocks) return;
    if (level === 0) return add(logical, ptr);
    if (ptr >= blocksCount || seen.has(ptr)) {
      throw new LcowError('EBADIMAGE', `inode ${ino}: bad indirect block ${ptr}`, { inode: ino });
    }
    seen.add(ptr);
    const b = await readBlock(ptr);
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock; i++) await visit(b.readUInt32LE(i * 4), level - 1, logical + i * span);
  };
  for (let i = 0; i < 12; i++) await visit(iBlock.readUInt32LE(i * 4), 0, i);
  let base = 12;
  for (let level = 1; level <= 3; level++) {
    await visit(iBlock.readUInt32LE((11 + level) * 4), level, base);
    base += perBlock ** level;
  }
  return normaliseRuns(runs, ino);
}
