/**
 * dm-verity for a finished image: a 4 KiB verity superblock at
 * `dataSizeBytes`, then the SHA-256 hash tree (hash type 1: sha256(salt ‖
 * block)), levels root-most first, each padded to 4 KiB — the layout
 * veritysetup writes and hcsshim uses: [ext4][verity superblock][tree].
 * The salt is derived from the image's first block (which holds the ext4
 * superblock and its content-derived UUID), so the same image always gets
 * the same tree and root hash.
 */
import type { PositionalFile } from '../fd-file.js';
import { LcowError } from '../errors.js';
import { uuidFromHash } from './format/uuid.js';
import { writeAll } from './writer/batch-writer.js';

const BLOCK = 4096;
const DIGEST = 32;
const HASHES_PER_BLOCK = BLOCK / DIGEST;
const READ_CHUNK = 1 << 20;

export interface VerityResult {
  rootHash: string;
  salt: string;
  /** Where the verity superblock starts (veritysetup --hash-offset). */
  hashOffsetBytes: number;
  /** Data + superblock + tree. */
  totalSizeBytes: number;
}

/** The 512-byte verity superblock (struct verity_sb), zero-padded to a block. */
export function encodeVeritySuperblock(dataBlocks: number, salt: Buffer, uuid: Buffer): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write('verity', 0, 'latin1');
  b.writeUInt32LE(1, 8); // version
  b.writeUInt32LE(1, 12); // hash_type 1: salt first, normal tree
  uuid.copy(b, 16, 0, 16);
  b.write('sha256', 32, 'latin1');
  b.writeUInt32LE(BLOCK, 64); // data_block_size
  b.writeUInt32LE(BLOCK, 68); // hash_block_size
  b.writeBigUInt64LE(BigInt(dataBlocks), 72);
  b.writeUInt16LE(salt.length, 80);
  salt.copy(b, 88);
  return b;
}

/** Blocks in each tree level, leaf level first. */
export function verityLevelBlocks(dataBlocks: number): number[] {
  const levels: number[] = [];
  let n = dataBlocks;
  do {
    n = Math.ceil(n / HASHES_PER_BLOCK);
    levels.push(n);
  } while (n > 1);
  return levels;
}

async function readExactly(fh: PositionalFile, buf: Buffer, len: number, position: number): Promise<void> {
  let done = 0;
  while (done < len) {
    const { bytesRead } = await fh.read(buf, done, len - done, position + done);
    if (bytesRead === 0) throw new LcowError('EBADIMAGE', 'image shorter than its data size', { position: position + done });
    done += bytesRead;
  }
}

export async function appendVerityTree(fh: PositionalFile, dataSizeBytes: number): Promise<VerityResult> {
  if (!Number.isSafeInteger(dataSizeBytes) || dataSizeBytes <= 0 || dataSizeBytes % BLOCK !== 0) {
    throw new LcowError('EINVAL', 'verity data size must be a positive multiple of 4096', { dataSizeBytes });
  }
  const dataBlocks = dataSizeBytes / BLOCK;
  // Loaded here, not at the top: `lcow convert` without --verity never needs it (digest/sha256.ts says what loading it costs).
  const { createHash } = await import('node:crypto');
  const first = Buffer.alloc(BLOCK);
  await readExactly(fh, first, BLOCK, 0);
  const salt = createHash('sha256').update('lcow-uvm dm-verity salt').update(first).digest();
  const uuid = uuidFromHash(createHash('sha256').update(salt).update('uuid').digest());
  const salted = createHash('sha256').update(salt);
  const hashBlock = (block: Buffer) => salted.copy().update(block).digest();

  const hashOffsetBytes = dataSizeBytes;
  const treeStart = hashOffsetBytes + BLOCK;
  // Level 0 (the leaves) first in this list; on disk the root-most level comes first.
  const levels = verityLevelBlocks(dataBlocks).map((blocks) => ({ blocks, offset: 0 }));
  let off = treeStart;
  for (const level of [...levels].reverse()) {
    level.offset = off;
    off += level.blocks * BLOCK;
  }
  const totalSizeBytes = off;
  const [leaves, ...upperLevels] = levels;
  if (!leaves) throw new LcowError('EINVAL', 'verity needs at least one data block', { dataSizeBytes }); // verityLevelBlocks always gives one

  // Level 0: stream the data, write leaf hash blocks as they fill, and hash
  // each completed leaf block into level 1 (kept in memory: 1/128 the size).
  let upper = Buffer.alloc(leaves.blocks * DIGEST);
  const leafOut = Buffer.alloc(READ_CHUNK);
  let leafUsed = 0;
  let leafWritten = 0;
  let leafBlocksDone = 0;
  const flushLeaves = async (final: boolean) => {
    const whole = final ? Math.ceil(leafUsed / BLOCK) * BLOCK : leafUsed - (leafUsed % BLOCK);
    if (whole === 0) return;
    leafOut.fill(0, leafUsed, whole); // pad the last block of the level with zeros
    for (let p = 0; p < whole; p += BLOCK) hashBlock(leafOut.subarray(p, p + BLOCK)).copy(upper, DIGEST * leafBlocksDone++);
    await writeAll(fh, leafOut, whole, leaves.offset + leafWritten);
    leafWritten += whole;
    leafOut.copy(leafOut, 0, whole, leafUsed);
    leafUsed -= whole;
  };
  // Two buffers: the next chunk is read while this one is hashed.
  let reading = Buffer.alloc(READ_CHUNK);
  let spare = Buffer.alloc(READ_CHUNK);
  let pos = 0;
  let pending = pos < dataSizeBytes ? readExactly(fh, reading, Math.min(READ_CHUNK, dataSizeBytes), 0) : undefined;
  while (pending) {
    await pending;
    const len = Math.min(READ_CHUNK, dataSizeBytes - pos);
    const cur = reading;
    pos += len;
    [reading, spare] = [spare, reading];
    pending = pos < dataSizeBytes ? readExactly(fh, reading, Math.min(READ_CHUNK, dataSizeBytes - pos), pos) : undefined;
    pending?.catch(() => undefined);
    for (let p = 0; p < len; p += BLOCK) {
      hashBlock(cur.subarray(p, p + BLOCK)).copy(leafOut, leafUsed);
      leafUsed += DIGEST;
      if (leafUsed === READ_CHUNK) await flushLeaves(false);
    }
  }
  await flushLeaves(true);

  // Upper levels: each is the hashes of the level below's blocks.
  let below = upper.subarray(0, leaves.blocks * DIGEST);
  for (const level of upperLevels) {
    const padded = Buffer.alloc(level.blocks * BLOCK);
    below.copy(padded);
    await writeAll(fh, padded, padded.length, level.offset);
    upper = Buffer.alloc(level.blocks * DIGEST);
    for (let b = 0; b < level.blocks; b++) hashBlock(padded.subarray(b * BLOCK, (b + 1) * BLOCK)).copy(upper, b * DIGEST);
    below = upper;
  }
  // `below` now holds the hash of the single top block: the root.
  const rootHash = below.subarray(0, DIGEST).toString('hex');
  const sb = encodeVeritySuperblock(dataBlocks, salt, uuid);
  await writeAll(fh, sb, sb.length, hashOffsetBytes);
  return { rootHash, salt: salt.toString('hex'), hashOffsetBytes, totalSizeBytes };
}
