/**
 * The decoders against bytes e2fsprogs wrote, judged by e2fsprogs' own view
 * of them (dumpe2fs, debugfs). The other format tests round-trip the
 * writer's encoders through these decoders, so a misreading of the format
 * shared by both would pass there; it cannot pass here. The image is mke2fs's
 * default ext4 (64-bit descriptors, metadata_csum, a journal) with 1 KiB
 * blocks (first data block 1) over three groups, plus an xattr set by debugfs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_INO, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE } from '../../../src/ext4/format/constants.js';
import { decodeDirectoryBlock, type DecodedDirEntry } from '../../../src/ext4/format/directory.js';
import { decodeExtentHeader, decodeExtentNode } from '../../../src/ext4/format/extents.js';
import { decodeGroupDescriptor, descriptorLocation, type GroupDescriptor } from '../../../src/ext4/format/group-descriptor.js';
import { decodeInode, kindOfMode, type Inode } from '../../../src/ext4/format/inode.js';
import { decodeSuperblock, type Ext4Superblock } from '../../../src/ext4/format/superblock.js';
import { decodeInodeXattrs } from '../../../src/ext4/format/xattrs.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-e2fsprogs-'));
const image = join(dir, 'img');
let disk: Buffer;
let sb: Ext4Superblock;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const debugfs = (request: string) => run('debugfs', ['-R', request, image]);

beforeAll(() => {
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'hello'), 'hi\n');
  writeFileSync(join(src, 'sub', 'f'), 'x\n');
  run('mkfs.ext4', [
    '-q',
    '-F',
    '-b',
    '1024',
    '-N',
    '64',
    '-L',
    'golden',
    '-U',
    '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
    '-E',
    'root_owner=0:0',
    '-d',
    src,
    image,
    '20M',
  ]);
  run('debugfs', ['-w', '-R', 'ea_set /hello user.test value123', image]);
  run('debugfs', ['-w', '-R', 'set_inode_field /hello uid 100000', image]);
  disk = readFileSync(image);
  sb = decodeSuperblock(disk.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE), disk.length);
});

/** dumpe2fs -h's "Name:   value" lines. */
function dumpe2fsHeader(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of run('dumpe2fs', ['-h', image]).split('\n')) {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    if (m) out.set(m[1]!.trim(), m[2]!.trim());
  }
  return out;
}

function inode(ino: number): Inode {
  const g = Math.floor((ino - 1) / sb.inodesPerGroup);
  const loc = descriptorLocation(sb, g);
  const gd = decodeGroupDescriptor(disk, loc.block * sb.blockSize + loc.offset, sb.descSize);
  const at = gd.inodeTable * sb.blockSize + ((ino - 1) % sb.inodesPerGroup) * sb.inodeSize;
  return decodeInode(disk.subarray(at, at + sb.inodeSize), ino, true);
}

describe('decoding what mke2fs and debugfs wrote', () => {
  it('the superblock says what dumpe2fs says', () => {
    const h = dumpe2fsHeader();
    expect(sb.label).toBe(h.get('Filesystem volume name'));
    expect(sb.uuid).toBe(h.get('Filesystem UUID'));
    expect(sb.features).toEqual(expect.arrayContaining(h.get('Filesystem features')!.split(' ')));
    expect(sb.features.length).toBe(h.get('Filesystem features')!.split(' ').length);
    expect(sb.inodesCount).toBe(Number(h.get('Inode count')));
    expect(sb.blocksCount).toBe(Number(h.get('Block count')));
    expect(sb.reservedBlocksCount).toBe(Number(h.get('Reserved block count')));
    expect(sb.freeBlocksCount).toBe(Number(h.get('Free blocks')));
    expect(sb.freeInodesCount).toBe(Number(h.get('Free inodes')));
    expect(sb.firstDataBlock).toBe(Number(h.get('First block')));
    expect(sb.blockSize).toBe(Number(h.get('Block size')));
    expect(sb.blocksPerGroup).toBe(Number(h.get('Blocks per group')));
    expect(sb.inodesPerGroup).toBe(Number(h.get('Inodes per group')));
    expect(sb.inodeSize).toBe(Number(h.get('Inode size')));
    expect(sb.descSize).toBe(Number(h.get('Group descriptor size')));
    expect(sb.logGroupsPerFlex).toBe(Math.log2(Number(h.get('Flex block group size'))));
    expect(sb.groupCount).toBe(3);
    expect(sb.clean).toBe(h.get('Filesystem state') === 'clean');
  });

  it('every group descriptor says what dumpe2fs says (64-byte descriptors, 1 KiB blocks)', () => {
    const groups = [
      ...run('dumpe2fs', [image]).matchAll(
        /^Group (\d+):[\s\S]*?Block bitmap at (\d+)[\s\S]*?Inode bitmap at (\d+)[\s\S]*?Inode table at (\d+)[\s\S]*?(\d+) free blocks, (\d+) free inodes, (\d+) directories/gm,
      ),
    ];
    expect(groups).toHaveLength(sb.groupCount);
    for (const m of groups) {
      const g = Number(m[1]);
      const loc = descriptorLocation(sb, g);
      const gd: GroupDescriptor = decodeGroupDescriptor(disk, loc.block * sb.blockSize + loc.offset, sb.descSize);
      expect({ g, ...gd, flags: undefined }).toEqual({
        g,
        blockBitmap: Number(m[2]),
        inodeBitmap: Number(m[3]),
        inodeTable: Number(m[4]),
        freeBlocksCount: Number(m[5]),
        freeInodesCount: Number(m[6]),
        usedDirsCount: Number(m[7]),
        flags: undefined,
      });
    }
  });

  it('the root inode says what debugfs stat says, and its extent header what debugfs ex says', () => {
    const root = inode(ROOT_INO);
    const stat = debugfs('stat <2>');
    const field = (re: RegExp) => re.exec(stat)![1]!;
    expect(kindOfMode(root.mode)).toBe('dir');
    expect((root.mode & 0o7777).toString(8)).toBe(field(/Mode:\s+0?(\d+)/));
    expect(root.flags).toBe(Number(field(/Flags: (0x[0-9a-f]+)/)));
    expect(root.uid).toBe(Number(field(/User:\s+(\d+)/)));
    expect(root.size).toBe(Number(field(/Size: (\d+)/)));
    expect(root.linksCount).toBe(Number(field(/Links: (\d+)/)));
    expect(root.blocks).toBe(Number(field(/Blockcount: (\d+)/)));
    expect(root.extraIsize).toBe(Number(field(/Size of extra inode fields: (\d+)/)));
    expect(root.mtime.sec).toBe(Number(field(/ mtime: (0x[0-9a-f]+)/)));
    const ex = /^\s*(\d+)\/\s*(\d+)\s+(\d+)\/\s*(\d+)\s+(\d+) -\s+(\d+)\s+(\d+) -\s+(\d+)\s+(\d+)/m.exec(debugfs('ex <2>'))!;
    const header = decodeExtentHeader(root.iBlock)!;
    expect(header).toMatchObject({ depth: Number(ex[2]), entries: Number(ex[4]) });
    const leaf = decodeExtentNode(root.iBlock)!.leaves[0]!;
    expect(leaf).toEqual({ logical: Number(ex[5]), physical: Number(ex[7]), length: Number(ex[9]), uninit: false });
  });

  it('the root directory block lists what debugfs ls lists (the metadata_csum tail skipped)', () => {
    const root = inode(ROOT_INO);
    const leaf = decodeExtentNode(root.iBlock)!.leaves[0]!;
    const entries: DecodedDirEntry[] = [];
    decodeDirectoryBlock(disk.subarray(leaf.physical * sb.blockSize, (leaf.physical + 1) * sb.blockSize), true, ROOT_INO, entries);
    const listed = debugfs('ls -l /')
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3)
      .map((f) => ({ ino: Number(f[0]), name: f[f.length - 1], kind: kindOfMode(parseInt(f[1]!, 8)) }));
    expect(entries).toEqual(listed);
  });

  it('an inode with a large uid and an in-inode xattr, as debugfs set them', () => {
    const hello = debugfs('ls -l /')
      .split('\n')
      .find((l) => l.trim().endsWith(' hello'))!;
    const f = inode(Number(hello.trim().split(/\s+/)[0]));
    expect(f.uid).toBe(100000);
    expect(f.size).toBe(3);
    const xattrs = decodeInodeXattrs(f.xattrArea, f.ino);
    expect(xattrs.map((x) => [x.name, x.value?.toString()])).toEqual([['user.test', 'value123']]);
    expect(debugfs('ea_list /hello')).toContain('user.test (8) = "value123"');
  });
});
