/**
 * An in-memory LayerFs for tests that need exact control: random trees
 * (property tests), counting close(), failing reads, sparse files.
 */
import { Readable } from 'node:stream';
import { bytesToText, textToBytes, type ByteString } from '../../../../src/byte-names.js';
import type { DataRegion } from '../../../../src/ext4/index.js';
import type { LayerDirent, LayerFs, LayerRef, LayerStat } from '../../../../src/driver/host-diff/layer-fs.js';

export interface MemNode {
  stat: LayerStat;
  /** A file's whole content, holes included. */
  content?: Buffer;
  /** A sparse file's data regions (default: the whole content). */
  regions?: DataRegion[];
  target?: string;
  xattrs?: Map<string, Buffer>;
}

export interface MemoryFs extends LayerFs {
  closed: number;
  /** File chunks handed out so far (to observe backpressure). */
  chunksRead: number;
  /** Paths whose reads fail after the first chunk. */
  failing: Set<string>;
}

export function stat(kind: LayerStat['kind'], over: Partial<LayerStat> = {}): LayerStat {
  const t = { sec: 1_700_000_000, nsec: 0 };
  return {
    kind,
    mode: kind === 'dir' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    nlink: 1,
    inode: 0,
    atime: t,
    mtime: t,
    ctime: t,
    rdevMajor: 0,
    rdevMinor: 0,
    ...over,
  };
}

/** `nodes`: absolute text path → node; the root '/' is added when missing; inode numbers are assigned when 0. */
export function memoryFs(nodes: Map<string, MemNode>): MemoryFs {
  if (!nodes.has('/')) nodes.set('/', { stat: stat('dir') });
  let ino = 1000;
  for (const n of nodes.values()) if (n.stat.inode === 0) n.stat = { ...n.stat, inode: ino++ };
  const node = (ref: LayerRef): MemNode => {
    const n = nodes.get(bytesToText(ref.path));
    if (!n) throw new Error(`memory fs: no ${bytesToText(ref.path)}`);
    return n;
  };
  const children = (p: string): LayerDirent[] => {
    const prefix = p === '/' ? '/' : `${p}/`;
    return [...nodes.entries()]
      .filter(([k]) => k !== '/' && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
      .map(([k, n]) => ({ name: textToBytes(k.slice(prefix.length)), ino: n.stat.inode }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  };
  const fs: MemoryFs = {
    closed: 0,
    chunksRead: 0,
    failing: new Set(),
    async lookup(p: ByteString) {
      return nodes.get(bytesToText(p))?.stat ?? null;
    },
    async stat(ref) {
      return node(ref).stat;
    },
    async list(ref) {
      return children(bytesToText(ref.path));
    },
    done() {},
    async isEmptyDir(ref) {
      return children(bytesToText(ref.path)).length === 0;
    },
    async readlink(ref) {
      return Buffer.from(node(ref).target ?? '');
    },
    async listXattrs(ref) {
      return new Map(node(ref).xattrs ?? []);
    },
    async dataRegions(ref) {
      const n = node(ref);
      const size = n.content?.length ?? 0;
      return n.regions ?? (size > 0 ? [{ offset: 0, length: size }] : []);
    },
    readRegions(ref, regions) {
      const content = node(ref).content ?? Buffer.alloc(0);
      const failing = fs.failing.has(bytesToText(ref.path));
      async function* chunks(): AsyncGenerator<Buffer> {
        let first = true;
        for (const r of regions) {
          for (let i = r.offset; i < r.offset + r.length; i += 4096) {
            if (failing && !first) throw new Error(`injected read failure in ${bytesToText(ref.path)}`);
            first = false;
            fs.chunksRead++;
            yield content.subarray(i, Math.min(i + 4096, r.offset + r.length));
          }
        }
      }
      return chunks();
    },
    createReadStream(ref) {
      return Readable.from([node(ref).content ?? Buffer.alloc(0)], { objectMode: false });
    },
    async close() {
      fs.closed++;
    },
  };
  return fs;
}
