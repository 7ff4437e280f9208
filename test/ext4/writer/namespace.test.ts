/**
 * Inode numbering: root 2, lost+found 11, then every node still reachable
 * in creation order (numberInodes buckets by creation sequence instead of
 * sorting; these pin the order that gives).
 */
import { describe, expect, it } from 'vitest';
import { Namespace, defaultMeta, type NonDirNode } from '../../../src/ext4/writer/namespace.js';

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
