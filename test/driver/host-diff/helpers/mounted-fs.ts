/**
 * Test-only LayerFs over an image the kernel mounts (loop, read-only), and
 * over a plain directory. It lets the diff code be proven against images the
 * kernel and e2fsprogs wrote, independently of the project's own ext4 reader.
 * xattrs come from python3 (Node has no xattr API), read once per tree.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { byteStringOf, bytesOf, bytesToText, type ByteString } from '../../../../src/byte-names.js';
import type { LayerDirent, LayerFs, LayerStat, LayerFileKind } from '../../../../src/driver/host-diff/layer-fs.js';

const XATTR_DUMP = `
import os, sys, json, base64
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in [''] + dirs + files:
        p = os.path.join(d, n) if n else d
        try:
            names = os.listxattr(p, follow_symlinks=False)
        except OSError:
            continue
        if names:
            rel = '/' + os.path.relpath(p, root) if p != root else '/'
            out[rel.replace('/./', '/')] = {k: base64.b64encode(os.getxattr(p, k, follow_symlinks=False)).decode() for k in names}
print(json.dumps(out))
`;

function splitNs(ns: bigint): { sec: number; nsec: number } {
  let sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

function kindOf(st: fs.BigIntStats): LayerFileKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** SEEK_DATA/SEEK_HOLE: where a file holds data, as the kernel says (unwritten extents are holes). */
const DATA_REGIONS = `
import os, sys, json
fd = os.open(bytes.fromhex(sys.argv[1]), os.O_RDONLY)
size = os.fstat(fd).st_size
out, off = [], 0
while off < size:
    try:
        start = os.lseek(fd, off, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fd, start, os.SEEK_HOLE)
    out.append([start, min(end, size) - start])
    off = end
print(json.dumps(out))
`;

export function dirLayerFs(root: string, onClose: () => Promise<void> = async () => {}): LayerFs {
  let xattrs: Map<string, Map<string, Buffer>> | undefined;
  const abs = (p: ByteString): Buffer => Buffer.concat([Buffer.from(root), bytesOf(p)]);
  const lstat = async (p: ByteString): Promise<LayerStat | null> => {
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.lstat(abs(p), { bigint: true });
    } catch {
      return null;
    }
    const rdev = st.rdev;
    return {
      kind: kindOf(st),
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: st.isFile() || st.isSymbolicLink() ? Number(st.size) : 0,
      nlink: Number(st.nlink),
      inode: Number(st.ino),
      atime: splitNs(st.atimeNs),
      mtime: splitNs(st.mtimeNs),
      ctime: splitNs(st.ctimeNs),
      rdevMajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
      rdevMinor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
    };
  };
  const list = async (p: ByteString): Promise<LayerDirent[]> =>
    (await fs.promises.readdir(abs(p), { encoding: 'buffer' })).map((n) => ({ name: byteStringOf(n), ino: 0 })).sort((a, b) => (a.name < b.name ? -1 : 1));
  return {
    lookup: lstat,
    async stat(ref) {
      const st = await lstat(ref.path);
      if (!st) throw new Error(`dir fs: ${bytesToText(ref.path)} vanished`);
      return st;
    },
    list: (ref) => list(ref.path),
    done: () => {},
    isEmptyDir: async (ref) => (await list(ref.path)).length === 0,
    readlink: (ref) => fs.promises.readlink(abs(ref.path), { encoding: 'buffer' }),
    async listXattrs(ref) {
      if (!xattrs) {
        const json = JSON.parse(execFileSync('python3', ['-c', XATTR_DUMP, root], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Record<
          string,
          Record<string, string>
        >;
        xattrs = new Map(Object.entries(json).map(([k, v]) => [k, new Map(Object.entries(v).map(([n, b]) => [n, Buffer.from(b, 'base64')]))]));
      }
      return new Map(xattrs.get(bytesToText(ref.path)) ?? []);
    },
    async dataRegions(ref, size) {
      const st = await fs.promises.lstat(abs(ref.path), { bigint: true });
      if (st.blocks * 512n >= st.size) return size > 0 ? [{ offset: 0, length: size }] : [];
      const json = execFileSync('python3', ['-c', DATA_REGIONS, abs(ref.path).toString('hex')], { encoding: 'utf8' });
      return (JSON.parse(json) as Array<[number, number]>).map(([offset, length]) => ({ offset, length }));
    },
    async *readRegions(ref, regions) {
      for (const r of regions) {
        if (r.length === 0) continue;
        for await (const chunk of fs.createReadStream(abs(ref.path), { start: r.offset, end: r.offset + r.length - 1 })) yield chunk as Buffer;
      }
    },
    createReadStream: (ref) => fs.createReadStream(abs(ref.path)),
    close: onClose,
  };
}

/** Loop-mount an ext4 image (raw, fixed VHD, or VHDX via qemu-img) read-only; close() unmounts. */
export async function openViaMount(imageFile: string): Promise<LayerFs> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lcow-mnt-'));
  let raw = imageFile;
  if (imageFile.toLowerCase().endsWith('.vhdx')) {
    raw = path.join(tmp, 'image.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', imageFile, raw]);
  }
  const dir = path.join(tmp, 'mnt');
  fs.mkdirSync(dir);
  execFileSync('mount', ['-t', 'ext4', '-o', 'loop,ro,noload', raw, dir]);
  return dirLayerFs(dir, async () => {
    execFileSync('umount', [dir]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
}
