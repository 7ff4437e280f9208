/**
 * Inode numbering: root 2, lost+found 11, then every node still reachable
 * in creation order (numberInodes buckets by creation sequence instead of
 * sorting; these pin the order that gives).
 */
import { describe, expect, it } from 'vitest';
import { MetaInterner, Namespace, defaultMeta, type NonDirNode } from '../../../src/ext4/writer/namespace.js';
import type { EntryMeta } from '../../../src/ext4/writer/entry.js';

function symlink(ns: Namespace, target: string): NonDirNode {
  return { type: 'symlink', seq: ns.nextSeq(), ino: 0, meta: defaultMeta(0o777), links: 0, target: Buffer.from(target), block: undefined };
}

function put(ns: Namespace, path: string, node: NonDirNode): NonDirNode {
  ns.bind(ns.prepareNonDir(path, path), node, path);
  return node;
}

describe('Namespace.numberInodes', () => {
  it('numbers reachable nodes in creation order, skipping replaced ones; a hard-linked node once', () => {
    const ns = new Namespace();
    const b = ns.dirAt('b', 'b/');
    const first = put(ns, 'b/x', symlink(ns, 'one'));
    const a = ns.dirAt('a', 'a/');
    const replacement = put(ns, 'b/x', symlink(ns, 'two')); // unlinks `first`
    const linked = put(ns, 'a/y', symlink(ns, 'three'));
    ns.bind(ns.prepareNonDir('z', 'z'), linked, 'z'); // a second name for the same node
    const nested = ns.dirAt('a/c/d', 'a/c/d/'); // creates a/c first, implicitly
    const c = ns.lookup('a/c')!;

    const order = ns.numberInodes();

    expect(order.map((n) => n.ino)).toEqual([2, 11, 12, 13, 14, 15, 16, 17]);
    expect(order).toEqual([ns.root, ns.lostFound, b, a, replacement, linked, c, nested]);
    expect(first.ino).toBe(0);
    expect(order.filter((n) => n === linked)).toHaveLength(1);
  });

  it('an empty layer is the root and lost+found', () => {
    const ns = new Namespace();
    expect(ns.numberInodes().map((n) => n.ino)).toEqual([2, 11]);
  });
});

describe('MetaInterner', () => {
  const t = (sec: number, nsec = 0) => ({ sec, nsec });
  const base = (): EntryMeta => ({ mode: 0o100644, uid: 0, gid: 0, mtime: t(1600000000), atime: t(1600000000), ctime: t(1600000000), xattrs: new Map() });

  it('hands back the last NodeMeta while the metadata is the same (times by value), a new one when anything differs', () => {
    const m = new MetaInterner();
    const first = m.of(base());
    expect(first).toEqual({ mode: 0o644, uid: 0, gid: 0, mtime: t(1600000000), atime: t(1600000000), ctime: t(1600000000), crtime: t(1600000000) });
    expect(m.of(base())).toBe(first);
    const changes: Array<(e: EntryMeta) => void> = [
      (e) => (e.mode = 0o100755),
      (e) => (e.uid = 1000),
      (e) => (e.gid = 1000),
      (e) => (e.mtime = t(1600000000, 1)),
      (e) => (e.atime = t(1600000001)),
      (e) => (e.ctime = t(1)),
      (e) => (e.crtime = t(5)),
    ];
    for (const change of changes) {
      const e = base();
      change(e);
      const got = m.of(e);
      expect(got).not.toBe(first);
      expect(got.mode).toBe(e.mode & 0o7777);
      expect([got.uid, got.gid, got.mtime, got.atime, got.ctime, got.crtime]).toEqual([e.uid, e.gid, e.mtime, e.atime, e.ctime, e.crtime ?? e.mtime]);
      expect(m.of(base())).not.toBe(got); // and back: a fresh one again (only the last is remembered)
    }
  });

  it('file-type bits of the mode do not count: only the permission bits are kept', () => {
    const m = new MetaInterner();
    const a = m.of({ ...base(), mode: 0o100644 });
    expect(m.of({ ...base(), mode: 0o40644 })).toBe(a);
  });
});
