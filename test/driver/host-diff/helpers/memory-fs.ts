/**
 * An in-memory LayerFs for tests that need exact control: random trees
 * (property tests), counting close(), failing reads.
 */
import { Readable } from 'node:stream';
import type { LayerFs, LayerStat } from '../../../../src/driver/host-diff/layer-fs.js';

export interface MemNode {
  stat: LayerStat;
  content?: Buffer;
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

/** `nodes`: absolute path → node; the root '/' is added when missing; inode numbers are assigned when 0. */
export function memoryFs(nodes: Map<string, MemNode>): MemoryFs {
  if (!nodes.has('/')) nodes.set('/', { stat: stat('dir') });
  let ino = 1000;
  for (const n of nodes.values()) if (n.stat.inode === 0) n.stat = { ...n.stat, inode: ino++ };
  const fs: MemoryFs = {
    closed: 0,
    chunksRead: 0,
    failing: new Set(),
    async stat(p) {
      return nodes.get(p)?.stat ?? null;
    },
    async readdir(p) {
      const prefix = p === '/' ? '/' : `${p}/`;
      return [...nodes.keys()]
        .filter((k) => k !== '/' && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'))
        .map((k) => k.slice(prefix.length))
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    },
    async readlink(p) {
      return nodes.get(p)?.target ?? '';
    },
    async listXattrs(p) {
      return new Map(nodes.get(p)?.xattrs ?? []);
    },
    createReadStream(p) {
      const content = nodes.get(p)?.content ?? Buffer.alloc(0);
      const failing = fs.failing.has(p);
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let i = 0; i < content.length; i += 4096) {
          if (failing && i > 0) throw new Error(`injected read failure in ${p}`);
          fs.chunksRead++;
          yield content.subarray(i, i + 4096);
        }
      }
      return Readable.from(chunks(), { objectMode: false });
    },
    async close() {
      fs.closed++;
    },
  };
  return fs;
}
