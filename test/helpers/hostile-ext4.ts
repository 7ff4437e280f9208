/**
 * Hostile ext4 images for tests: a tree made on disk by Python (any name
 * bytes, sparse files, devices, xattrs), packed by mkfs.ext4 -d (an image
 * e2fsprogs wrote, not this project), then patched in memory the way a root
 * process in a container can patch its own sandbox's block device. Patches
 * go through src/ext4/format's encoders and decoders, so they speak the
 * format the reader reads.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Ext4Image, type Ext4BlockSource } from '../../src/ext4/index.js';
import { SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '../../src/ext4/format/constants.js';
import { FILE_TYPE } from '../../src/ext4/format/directory.js';
import { decodeExtentNode } from '../../src/ext4/format/extents.js';
import { decodeGroupDescriptor, descriptorLocation } from '../../src/ext4/format/group-descriptor.js';
import { decodeInode, type FileKind, type Inode } from '../../src/ext4/format/inode.js';
import { decodeSuperblock, type Ext4Superblock } from '../../src/ext4/format/superblock.js';

/** One object of a source tree. Paths and link targets are text or raw bytes. */
export type TreeEntry =
  | { path: string | Buffer; type: 'dir' }
  | { path: string | Buffer; type: 'file'; content?: string | Buffer }
  /** A sparse file: `size` bytes, data only at the given offsets. */
  | { path: string | Buffer; type: 'sparse'; size: number; data: Array<[offset: number, bytes: string]> }
  | { path: string | Buffer; type: 'symlink'; target: string | Buffer }
  | { path: string | Buffer; type: 'hardlink'; target: string | Buffer }
  /** An overlay whiteout (char 0:0). */
  | { path: string | Buffer; type: 'whiteout' }
  | { path: string | Buffer; type: 'opaque' };

const hex = (b: string | Buffer): string => (typeof b === 'string' ? Buffer.from(b) : b).toString('hex');

const BUILD = String.raw`
import os, sys, json, stat
root = os.fsencode(sys.argv[1])
for e in json.load(sys.stdin):
    p = os.path.join(root, bytes.fromhex(e['path']))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    t = e['type']
    if t == 'dir': os.makedirs(p, exist_ok=True)
    elif t == 'opaque':
        os.makedirs(p, exist_ok=True)
        os.setxattr(p, b'trusted.overlay.opaque', b'y')
    elif t == 'file':
        with open(p, 'wb') as f: f.write(bytes.fromhex(e.get('content', '')))
    elif t == 'sparse':
        with open(p, 'wb') as f:
            f.truncate(e['size'])
            for off, data in e['data']:
                f.seek(off); f.write(data.encode())
    elif t == 'symlink': os.symlink(bytes.fromhex(e['target']), p)
    elif t == 'hardlink': os.link(os.path.join(root, bytes.fromhex(e['target'])), p)
    elif t == 'whiteout': os.mknod(p, stat.S_IFCHR, os.makedev(0, 0))
for dirpath, dirs, files in os.walk(root):
    for n in dirs + files:
        os.utime(os.path.join(dirpath, n), ns=(1700000000 * 10**9, 1700000000 * 10**9), follow_symlinks=False)
`;

/** Make `entries` under `dir` (parents are created as needed). */
export function makeTree(dir: string, entries: TreeEntry[]): void {
  const json = entries.map((e) => ({
    ...e,
    path: hex(e.path),
    ...('content' in e ? { content: hex(e.content ?? '') } : {}),
    ...('target' in e ? { target: hex(e.target) } : {}),
  }));
  execFileSync('python3', ['-c', BUILD, dir], { input: JSON.stringify(json) });
}

/** mkfs.ext4 -d: 4 KiB blocks, 256-byte inodes, no journal; the image file is sparse. */
export function mkfsImage(image: string, tree: string, sizeMiB: number): void {
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-I', '256', '-O', '^has_journal', '-E', 'root_owner=0:0', '-d', tree, image, `${sizeMiB}M`]);
}

/** An image held in memory, read by the project's reader. */
export class MemorySource implements Ext4BlockSource {
  /** Reads the reader asked for outside the image (refused, as the real sources refuse them). */
  outside = 0;
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.buf.length) {
      this.outside++;
      throw new RangeError(`read of ${length} bytes at ${offset} outside the ${this.buf.length}-byte image`);
    }
    return Buffer.from(this.buf.subarray(offset, offset + length));
  }
  async close(): Promise<void> {}
}

/** Patches to a raw ext4 image in memory. */
export class Ext4Patch {
  readonly sb: Ext4Superblock;
  /** Scratch blocks handed out so far, from the end of the volume down (mkfs -d fills from the front). */
  private scratchUsed = 0;

  constructor(readonly buf: Buffer) {
    this.sb = decodeSuperblock(buf.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE), buf.length);
  }

  static load(image: string): Ext4Patch {
    return new Ext4Patch(readFileSync(image));
  }

  save(image: string): void {
    writeFileSync(image, this.buf);
  }

  get blockSize(): number {
    return this.sb.blockSize;
  }

  async lookup(path: string | Buffer): Promise<number> {
    const img = await Ext4Image.open(new MemorySource(this.buf));
    const bytes = typeof path === 'string' ? Buffer.from(path) : path;
    return img.lookupBytes(bytes.toString('latin1') as never);
  }

  inodeOffset(ino: number): number {
    const g = Math.floor((ino - 1) / this.sb.inodesPerGroup);
    const loc = descriptorLocation(this.sb, g);
    const d = decodeGroupDescriptor(this.buf.subarray(loc.block * this.blockSize, (loc.block + 1) * this.blockSize), loc.offset, this.sb.descSize);
    return d.inodeTable * this.blockSize + ((ino - 1) % this.sb.inodesPerGroup) * this.sb.inodeSize;
  }

  inode(ino: number): Inode {
    const at = this.inodeOffset(ino);
    return decodeInode(this.buf.subarray(at, at + this.sb.inodeSize), ino, false);
  }

  setSize(ino: number, size: bigint): void {
    const at = this.inodeOffset(ino);
    this.buf.writeUInt32LE(Number(size & 0xffffffffn), at + 0x04);
    this.buf.writeUInt32LE(Number(size >> 32n), at + 0x6c);
  }

  setFlags(ino: number, set: number): void {
    const at = this.inodeOffset(ino) + 0x20;
    this.buf.writeUInt32LE((this.buf.readUInt32LE(at) | set) >>> 0, at);
  }

  setIBlock(ino: number, iBlock: Buffer): void {
    iBlock.copy(this.buf, this.inodeOffset(ino) + 0x28, 0, 60);
  }

  setFileAcl(ino: number, block: number): void {
    this.buf.writeUInt32LE(block, this.inodeOffset(ino) + 0x68);
  }

  setIncompat(bit: number): void {
    const at = SUPERBLOCK_OFFSET + 0x60;
    this.buf.writeUInt32LE((this.buf.readUInt32LE(at) | bit) >>> 0, at);
  }

  /** A block no file uses, from the end of the volume. */
  scratchBlock(): number {
    return this.sb.blocksCount - 1 - this.scratchUsed++;
  }

  /** `count` contiguous free blocks (below any handed out before); returns the first. */
  scratchRun(count: number): number {
    this.scratchUsed += count;
    return this.sb.blocksCount - this.scratchUsed;
  }

  writeBlock(block: number, data: Buffer): void {
    data.copy(this.buf, block * this.blockSize);
  }

  /** The physical blocks of a small file or directory (extents in i_block, depth 0). */
  blocksOf(ino: number): number[] {
    const node = decodeExtentNode(this.inode(ino).iBlock);
    if (!node || node.depth !== 0) throw new Error(`inode ${ino}: not a depth-0 extent tree`);
    return node.leaves.flatMap((e) => Array.from({ length: e.length }, (_, i) => e.physical + i));
  }

  /** Rewrite the directory entry `name` of `dirIno`: its inode, its file type, or its name's bytes (same length). */
  setEntry(dirIno: number, name: string | Buffer, patch: { ino?: number; type?: FileKind; name?: string | Buffer }): void {
    const want = typeof name === 'string' ? Buffer.from(name) : name;
    for (const block of this.blocksOf(dirIno)) {
      const base = block * this.blockSize;
      for (let at = 0; at + 8 <= this.blockSize;) {
        const recLen = this.buf.readUInt16LE(base + at + 4);
        const nameLen = this.buf[base + at + 6]!;
        if (recLen < 8) break;
        if (this.buf.readUInt32LE(base + at) !== 0 && this.buf.subarray(base + at + 8, base + at + 8 + nameLen).equals(want)) {
          if (patch.ino !== undefined) this.buf.writeUInt32LE(patch.ino, base + at);
          if (patch.type !== undefined) this.buf[base + at + 7] = FILE_TYPE[patch.type];
          if (patch.name !== undefined) {
            const b = typeof patch.name === 'string' ? Buffer.from(patch.name) : patch.name;
            if (b.length !== nameLen) throw new Error('a patched name keeps its length');
            b.copy(this.buf, base + at + 8);
          }
          return;
        }
        at += recLen;
      }
    }
    throw new Error(`no entry ${want.toString()} in directory inode ${dirIno}`);
  }
}

/**
 * An xattr block whose entries keep their values in other inodes
 * (e_value_inum): what the ea_inode feature writes, and what a hostile
 * image can point at any inode it likes.
 */
export function eaInodeXattrBlock(blockSize: number, entries: Array<{ name: string; valueInode: number; valueSize: number }>): Buffer {
  const b = Buffer.alloc(blockSize);
  b.writeUInt32LE(0xea020000, 0);
  b.writeUInt32LE(1, 4); // h_refcount
  b.writeUInt32LE(1, 8); // h_blocks
  let at = 32;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    b[at] = name.length;
    b[at + 1] = 1; // user.
    b.writeUInt16LE(0, at + 2);
    b.writeUInt32LE(e.valueInode, at + 4);
    b.writeUInt32LE(e.valueSize, at + 8);
    name.copy(b, at + 16);
    at += (16 + name.length + 3) & ~3;
  }
  return b;
}
