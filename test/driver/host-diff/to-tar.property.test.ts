/**
 * Property: for any tree (files, dirs, symlinks, devices, fifos, hard links,
 * whiteouts, opaque dirs, xattrs incl. overlay's private ones, ns mtimes,
 * big ids, long and non-ASCII names), tar-stream reads layerToTar's output
 * as exactly the expected entries: one per object, parents first, whiteouts
 * as `.wh.` files, opaque markers after their dir, one body per inode.
 */
import crypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layerToTar } from '../../../src/driver/host-diff/to-tar.js';
import { paxMtime, readTar, type TarSeen } from './helpers/fixtures.js';
import { memoryFs, stat, type MemNode } from './helpers/memory-fs.js';

const nameArb = fc.oneof(
  fc.constantFrom('a', 'b', 'etc', 'ü', '目录', 'with space', 'x'.repeat(90), 'y'.repeat(200)),
  fc.stringMatching(/^[a-z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..' && !s.startsWith('.wh.')),
);
const metaArb = fc.record({
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.constant(4_294_967_294)),
  gid: fc.integer({ min: 0, max: 5_000_000 }),
  sec: fc.integer({ min: -2_000_000_000, max: 16_000_000_000 }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});
type Leaf =
  | { kind: 'file'; content: Uint8Array; link: boolean }
  | { kind: 'symlink'; target: string }
  | { kind: 'char' | 'block'; major: number; minor: number }
  | { kind: 'fifo' }
  | { kind: 'whiteout' };
const leafArb: fc.Arbitrary<Leaf> = fc.oneof(
  fc.record({ kind: fc.constant('file' as const), content: fc.uint8Array({ maxLength: 9000 }), link: fc.boolean() }),
  fc.record({ kind: fc.constant('symlink' as const), target: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constant('/' + 't'.repeat(150))) }),
  fc.record({
    kind: fc.constantFrom('char' as const, 'block' as const),
    major: fc.integer({ min: 1, max: 4095 }),
    minor: fc.integer({ min: 0, max: 1_048_575 }),
  }),
  fc.constant({ kind: 'fifo' as const }),
  fc.constant({ kind: 'whiteout' as const }),
);
const xattrArb = fc.dictionary(
  fc.constantFrom('user.a', 'user.b', 'trusted.overlay.origin', 'trusted.overlay.impure', 'security.x'),
  fc.string({ maxLength: 20 }),
  { maxKeys: 3 },
);

interface Spec {
  path: string[];
  leaf: Leaf | { kind: 'dir'; opaque: boolean };
  meta: { mode: number; uid: number; gid: number; sec: number; nsec: number };
  xattrs: Record<string, string>;
}
const specArb = fc.array(
  fc.record({
    path: fc.array(nameArb, { minLength: 1, maxLength: 3 }),
    leaf: fc.oneof(leafArb, fc.record({ kind: fc.constant('dir' as const), opaque: fc.boolean() })),
    meta: metaArb,
    xattrs: xattrArb,
  }),
  { maxLength: 25 },
);

function build(specs: Spec[]): Map<string, MemNode> {
  const nodes = new Map<string, MemNode>();
  let firstFile: MemNode | undefined;
  for (const s of specs) {
    // parents are directories; a later spec for an existing path or an ancestor that is not a dir is dropped
    const ancestors = s.path.slice(0, -1).map((_, i) => '/' + s.path.slice(0, i + 1).join('/'));
    const path = '/' + s.path.join('/');
    if (nodes.has(path) || ancestors.some((p) => nodes.has(p) && nodes.get(p)!.stat.kind !== 'dir')) continue;
    for (const p of ancestors) if (!nodes.has(p)) nodes.set(p, { stat: stat('dir') });
    const m = { mode: s.meta.mode, uid: s.meta.uid, gid: s.meta.gid, mtime: { sec: s.meta.sec, nsec: s.meta.nsec } };
    const xattrs = new Map(Object.entries(s.xattrs).map(([k, v]) => [k, Buffer.from(v)]));
    const l = s.leaf;
    if (l.kind === 'dir') {
      if (l.opaque) xattrs.set('trusted.overlay.opaque', Buffer.from('y'));
      nodes.set(path, { stat: stat('dir', m), xattrs });
    } else if (l.kind === 'file') {
      if (l.link && firstFile) {
        nodes.set(path, firstFile); // same node object: same inode
        firstFile.stat = { ...firstFile.stat, nlink: firstFile.stat.nlink + 1 };
      } else {
        const n: MemNode = { stat: stat('file', { ...m, size: l.content.length, inode: 0 }), content: Buffer.from(l.content), xattrs };
        nodes.set(path, n);
        firstFile ??= n;
      }
    } else if (l.kind === 'symlink') nodes.set(path, { stat: stat('symlink', { ...m, size: Buffer.byteLength(l.target) }), target: l.target, xattrs });
    else if (l.kind === 'whiteout') nodes.set(path, { stat: stat('char', { ...m, mode: 0 }) });
    else if (l.kind === 'fifo') nodes.set(path, { stat: stat('fifo', m), xattrs });
    else nodes.set(path, { stat: stat(l.kind, { ...m, rdevMajor: l.major, rdevMinor: l.minor }), xattrs });
  }
  return nodes;
}

const TYPE = { file: 'file', dir: 'directory', symlink: 'symlink', char: 'character-device', block: 'block-device', fifo: 'fifo' } as const;

function portable(x: Map<string, Buffer> | undefined): Record<string, string> {
  return Object.fromEntries([...(x ?? [])].filter(([k]) => !k.startsWith('trusted.overlay.')).map(([k, v]) => [k, v.toString()]));
}

/** The tar entries a consumer must see, by name (independent of walk order except for which hard-link name comes first). */
function expected(nodes: Map<string, MemNode>): Map<string, Partial<TarSeen>> {
  const out = new Map<string, Partial<TarSeen>>();
  const firstOf = new Map<MemNode, string>();
  const paths = [...nodes.keys()].filter((p) => p !== '/');
  // the body goes with the first name in a sorted pre-order walk
  const order = (p: string) =>
    p
      .split('/')
      .slice(1)
      .map((c) => Buffer.from(c));
  paths.sort((a, b) => {
    const x = order(a),
      y = order(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = Buffer.compare(x[i]!, y[i]!);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  });
  for (const p of paths) {
    const n = nodes.get(p)!;
    const rel = p.slice(1);
    const s = n.stat;
    if (s.kind === 'char' && s.rdevMajor === 0 && s.rdevMinor === 0) {
      const i = rel.lastIndexOf('/');
      out.set(`${rel.slice(0, i + 1)}.wh.${rel.slice(i + 1)}`, { type: 'file', size: 0, mode: 0o600 });
      continue;
    }
    const base = { mode: s.mode, uid: s.uid, gid: s.gid, mtime: paxMtime(s.mtime) };
    if (s.kind === 'file' && firstOf.has(n)) {
      out.set(rel, { ...base, type: 'link', linkname: firstOf.get(n)!, xattrs: {} });
      continue;
    }
    if (s.kind === 'file') firstOf.set(n, rel);
    out.set(rel, {
      ...base,
      type: TYPE[s.kind as keyof typeof TYPE],
      xattrs: portable(n.xattrs),
      ...(s.kind === 'file' ? { size: s.size, sha256: crypto.createHash('sha256').update(n.content!).digest('hex') } : {}),
      ...(s.kind === 'symlink' ? { linkname: n.target } : {}),
      ...(s.kind === 'char' || s.kind === 'block' ? { devmajor: s.rdevMajor, devminor: s.rdevMinor } : {}),
    });
    if (s.kind === 'dir' && n.xattrs?.get('trusted.overlay.opaque')?.toString() === 'y') {
      out.set(`${rel}/.wh..wh..opq`, { type: 'file', size: 0, mode: s.mode & 0o777, uid: s.uid, gid: s.gid });
    }
  }
  return out;
}

describe('layerToTar (property)', () => {
  it('writes exactly the expected entries for any tree', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, async (specs) => {
        const nodes = build(specs);
        const want = expected(nodes);
        const got = await readTar(layerToTar('x.vhd', { open: async () => memoryFs(nodes) }));
        expect(got.map((e) => e.name).sort()).toEqual([...want.keys()].sort());
        for (const e of got) expect(e, e.name).toMatchObject(want.get(e.name)!);
        const names = got.map((e) => e.name);
        for (const [i, n] of names.entries()) {
          const parent = n.includes('/') ? n.slice(0, n.lastIndexOf('/')) : '';
          if (parent) expect(names.indexOf(parent)).toBeLessThan(i);
        }
      }),
      { numRuns: 150 },
    );
  });
});
