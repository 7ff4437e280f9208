/**
 * The contents of one fake disk: a flat map from relative path to node. Just
 * enough of a file system for union semantics — directories (optionally
 * opaque), files, symlinks and whiteouts (the char device 0:0 overlayfs uses).
 */
export type FakeNode = { kind: 'dir'; opaque?: boolean } | { kind: 'file'; data: Buffer } | { kind: 'symlink'; target: string } | { kind: 'whiteout' };

/** How a test describes a file: text, bytes, or one of the node shapes. */
export type FakeFileSpec = string | Buffer | { dir: true; opaque?: boolean } | { whiteout: true } | { symlink: string };

/** `a/b/c` → `['a', 'a/b']`. */
export function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Normalise to a relative path without leading/trailing slashes ('' is the root). */
export function relPath(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

export class FsTree {
  private readonly nodes = new Map<string, FakeNode>([['', { kind: 'dir' }]]);

  static from(files: Record<string, FakeFileSpec> = {}): FsTree {
    const t = new FsTree();
    for (const [p, spec] of Object.entries(files)) t.set(relPath(p), toNode(spec));
    return t;
  }

  get(rel: string): FakeNode | undefined {
    return this.nodes.get(rel);
  }

  /** Set a node, creating missing parent directories. */
  set(rel: string, node: FakeNode): void {
    for (const a of ancestors(rel)) if (this.nodes.get(a)?.kind !== 'dir') this.nodes.set(a, { kind: 'dir' });
    this.nodes.set(rel, node);
  }

  mkdirp(rel: string): void {
    if (rel === '') return;
    if (this.nodes.get(rel)?.kind !== 'dir') this.set(rel, { kind: 'dir' });
    else for (const a of ancestors(rel)) if (this.nodes.get(a)?.kind !== 'dir') this.nodes.set(a, { kind: 'dir' });
  }

  /** Remove a node and everything below it. */
  delete(rel: string): void {
    for (const k of [...this.nodes.keys()]) if (k === rel || (rel === '' ? k !== '' : k.startsWith(`${rel}/`))) this.nodes.delete(k);
    this.nodes.set('', this.nodes.get('') ?? { kind: 'dir' });
  }

  /** Direct children of a directory: name → node. */
  children(rel: string): Map<string, FakeNode> {
    const out = new Map<string, FakeNode>();
    const prefix = rel === '' ? '' : `${rel}/`;
    for (const [k, n] of this.nodes) {
      if (k !== '' && k.startsWith(prefix) && !k.slice(prefix.length).includes('/')) out.set(k.slice(prefix.length), n);
    }
    return out;
  }

  /** Every path, sorted (for snapshots in tests). */
  paths(): string[] {
    return [...this.nodes.keys()].filter((k) => k !== '').sort();
  }
}

function toNode(spec: FakeFileSpec): FakeNode {
  if (typeof spec === 'string') return { kind: 'file', data: Buffer.from(spec) };
  if (Buffer.isBuffer(spec)) return { kind: 'file', data: spec };
  if ('dir' in spec) return { kind: 'dir', opaque: spec.opaque };
  if ('whiteout' in spec) return { kind: 'whiteout' };
  return { kind: 'symlink', target: spec.symlink };
}
