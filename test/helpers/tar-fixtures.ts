/**
 * Edge-case tar generators for tests (reusable by the writer/reader/driver
 * tests). Archives are produced by real tar implementations — Python's
 * tarfile and GNU tar — never by our own code, so a parser bug cannot hide
 * behind a matching writer bug. `describeTar` is the independent oracle:
 * Python's view of an archive (sparse files expanded by Python itself).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type MemberType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo' | 'contiguous';

export interface MemberSpec {
  name: string;
  type?: MemberType; // default 'file'
  /** File content: UTF-8 text, or `{ size, seed }` for a deterministic pseudo-random body. */
  data?: string | { size: number; seed?: number };
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  /** Seconds, may be fractional/negative (PAX keeps the fraction). */
  mtime?: number;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (value strings; use `paxBinary` for raw bytes in base64). */
  pax?: Record<string, string>;
  paxBinary?: Record<string, string>;
}

export type PyFormat = 'gnu' | 'pax' | 'ustar';

const PY_WRITER = String.raw`
import sys, json, tarfile, io, base64, random
spec = json.load(sys.stdin)
fmt = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT, 'ustar': tarfile.USTAR_FORMAT}[spec['format']]
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE, 'hardlink': tarfile.LNKTYPE,
         'char': tarfile.CHRTYPE, 'block': tarfile.BLKTYPE, 'fifo': tarfile.FIFOTYPE, 'contiguous': tarfile.CONTTYPE}
with tarfile.open(spec['out'], 'w', format=fmt, encoding='utf-8') as tf:
    for m in spec['members']:
        ti = tarfile.TarInfo(m['name'])
        ti.type = types[m.get('type', 'file')]
        ti.mode = m.get('mode', 0o755 if m.get('type') == 'dir' else 0o644)
        ti.uid = m.get('uid', 0); ti.gid = m.get('gid', 0)
        ti.uname = m.get('uname', ''); ti.gname = ''
        ti.mtime = m.get('mtime', 1700000000)
        ti.linkname = m.get('linkname', '')
        ti.devmajor = m.get('devmajor', 0); ti.devminor = m.get('devminor', 0)
        pax = dict(m.get('pax', {}))
        for k, v in m.get('paxBinary', {}).items():
            pax[k] = base64.b64decode(v).decode('utf-8', 'surrogateescape')
        if pax: ti.pax_headers = pax
        body = None
        d = m.get('data')
        if isinstance(d, str): body = d.encode('utf-8')
        elif isinstance(d, dict):
            body = random.Random(d.get('seed', 1)).randbytes(d['size'])
        if ti.type in (tarfile.REGTYPE, tarfile.CONTTYPE):
            body = body or b''
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
        else:
            tf.addfile(ti)
`;

/** Write a tar with Python's tarfile; returns its bytes. */
export function pyTar(out: string, format: PyFormat, members: MemberSpec[]): Buffer {
  execFileSync('python3', ['-c', PY_WRITER], { input: JSON.stringify({ out, format, members }) });
  return readFileSync(out);
}

export type SparseFormat = 'gnu' | '0.0' | '0.1' | '1.0';

export interface SparseFileSpec {
  name: string;
  size: number;
  /** Data written at these offsets (deterministic bytes); everything else is a hole. */
  chunks: Array<{ offset: number; length: number }>;
}

/**
 * Sparse files archived by GNU tar (--sparse) in one of its four sparse
 * encodings. The files are made sparse on disk first so that GNU tar's hole
 * detection (SEEK_HOLE) finds the map.
 */
export function gnuSparseTar(out: string, format: SparseFormat, files: SparseFileSpec[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'lcow-sparse-'));
  try {
    const script = String.raw`
import sys, json, os
spec = json.load(sys.stdin)
for f in spec['files']:
    p = os.path.join(spec['dir'], f['name'])
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, 'wb') as h:
        h.truncate(f['size'])
        for c in f['chunks']:
            h.seek(c['offset'])
            h.write(bytes(((c['offset'] + i) * 7 + 13) % 251 for i in range(c['length'])))
`;
    execFileSync('python3', ['-c', script], { input: JSON.stringify({ dir, files }) });
    const args = ['--sparse', '--numeric-owner', '--owner=0', '--group=0', '--mtime=@1700000000', '-C', dir, '-cf', out];
    if (format === 'gnu') args.unshift('--format=gnu');
    else args.unshift('--format=pax', `--sparse-version=${format}`);
    execFileSync('tar', [...args, ...files.map((f) => f.name)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The byte a sparse chunk holds at `offset` (matches gnuSparseTar's generator). */
export function sparseByte(offset: number): number {
  return (offset * 7 + 13) % 251;
}

export interface OracleMember {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** sha256 of the logical content (holes as zeros), files only. */
  sha256?: string;
  sparse?: Array<[number, number]>;
  pax: Record<string, string>; // values base64
}

/** Python tarfile's reading of an archive. */
export function describeTar(path: string): OracleMember[] {
  const script = String.raw`
import sys, json, tarfile, hashlib, base64
out = []
with tarfile.open(sys.argv[1], 'r:*') as tf:
    for m in tf:
        t = {tarfile.REGTYPE: 'file', tarfile.AREGTYPE: 'file', tarfile.CONTTYPE: 'file', tarfile.GNUTYPE_SPARSE: 'file',
             tarfile.DIRTYPE: 'dir', tarfile.SYMTYPE: 'symlink', tarfile.LNKTYPE: 'hardlink', tarfile.CHRTYPE: 'char',
             tarfile.BLKTYPE: 'block', tarfile.FIFOTYPE: 'fifo'}.get(m.type, 'other')
        d = dict(name=m.name, type=t, size=m.size, mode=m.mode, uid=m.uid, gid=m.gid, mtime=float(m.mtime),
                 linkname=m.linkname, devmajor=m.devmajor, devminor=m.devminor,
                 pax={k: base64.b64encode(v.encode('utf-8', 'surrogateescape')).decode() for k, v in m.pax_headers.items()})
        if m.isreg():
            h = hashlib.sha256(); f = tf.extractfile(m)
            while True:
                b = f.read(1 << 20)
                if not b: break
                h.update(b)
            d['sha256'] = h.hexdigest()
            if m.sparse is not None: d['sparse'] = m.sparse
        out.append(d)
json.dump(out, sys.stdout)
`;
  return JSON.parse(execFileSync('python3', ['-c', script, path], { maxBuffer: 1 << 28 }).toString()) as OracleMember[];
}

/** Recompute a tar header's checksum after a test has patched its bytes. */
export function fixChecksum(tar: Buffer, headerOffset: number): void {
  const h = tar.subarray(headerOffset, headerOffset + 512);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
}

/**
 * An archive built by hand in a shape GNU tar reads but a careless walker
 * does not: before each member, a PAX header whose `size` record is the
 * member's size, then a GNU long-name header ('L', its own size in its own
 * header), then the member's ustar header (size field 0: PAX says it) and
 * body. The PAX size belongs to the member, not to the 'L' header between.
 */
export function paxSizeThenLongName(members: Array<{ name: string; body: Buffer }>): Buffer {
  const header = (name: string, type: string, size: number): Buffer => {
    const h = Buffer.alloc(512);
    h.write(name.slice(0, 99), 0, 'latin1');
    h.write('0000644\0', 100, 'latin1');
    h.write('0000000\0', 108, 'latin1');
    h.write('0000000\0', 116, 'latin1');
    h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
    h.write('14524563200\0', 136, 'latin1');
    h.write(type, 156, 'latin1');
    h.write('ustar\u000000', 257, 'latin1');
    fixChecksum(h, 0);
    return h;
  };
  const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
  const parts: Buffer[] = [];
  for (const { name, body } of members) {
    const rec = ` size=${body.length}\n`;
    let len = rec.length + 1;
    while (String(len).length + rec.length !== len) len++;
    const pax = Buffer.from(`${len}${rec}`);
    const longName = Buffer.from(`${name}\0`);
    parts.push(header('PaxHeaders/x', 'x', pax.length), pax, pad(pax.length));
    parts.push(header('././@LongLink', 'L', longName.length), longName, pad(longName.length));
    parts.push(header('stand-in', '0', 0), body, pad(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Write bytes to a fresh temp file and return its path (caller removes `dir`). */
export function tempFile(dir: string, name: string, data: Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/**
 * The "everything" layer for end-to-end tests: every entry type and the
 * metadata corners the design lists, in PAX format.
 */
export function richMembers(): MemberSpec[] {
  const long255 = 'é'.repeat(127) + 'x'; // 255 bytes of UTF-8 in one component
  return [
    { name: 'etc', type: 'dir', mode: 0o755, mtime: 1600000000.1234567 } /* the double nearest 1600000000.123456789 */,
    { name: 'etc/hostname', data: 'layer\n', mode: 0o644, uid: 1000, gid: 1000 },
    { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n', mode: 0o600 },
    { name: 'bin', type: 'dir' },
    { name: 'bin/suid', data: '#!/bin/sh\n', mode: 0o4755 },
    { name: 'bin/sgid', data: '#!/bin/sh\n', mode: 0o2755 },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
    { name: 'nomode', data: 'x', mode: 0 },
    { name: 'big', data: { size: 300_000, seed: 7 } },
    { name: 'empty', data: '' },
    { name: 'contig', type: 'contiguous', data: 'contiguous file' },
    { name: 'link-short', type: 'symlink', linkname: 'etc/hostname' },
    { name: 'link-long', type: 'symlink', linkname: 'a/'.repeat(60) + 'target' },
    { name: 'link-dangling', type: 'symlink', linkname: '../../outside/stays/data' },
    { name: 'hard-to-file', type: 'hardlink', linkname: 'etc/hostname' },
    { name: 'bin/hard-across', type: 'hardlink', linkname: 'etc/passwd' },
    { name: 'hard-to-symlink', type: 'hardlink', linkname: 'link-short' },
    { name: 'dev', type: 'dir' },
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block', devmajor: 8, devminor: 0, mode: 0o660 },
    { name: 'dev/bigdev', type: 'char', devmajor: 4095, devminor: 1048575 },
    { name: 'fifo', type: 'fifo', mode: 0o644 },
    { name: 'old', data: 'pre-1970', mtime: -86400 * 365 - 0.25 },
    { name: 'future', data: 'post-2038', mtime: 4102444800.5 },
    { name: 'nobody', data: 'uid', uid: 4294967294, gid: 4294967294 },
    { name: long255, data: 'long name' },
    { name: 'deep/' + 'd'.repeat(100) + '/' + 'e'.repeat(100) + '/' + 'f'.repeat(100) + '/file', data: 'deep long path' },
    { name: 'implicit/parent/child', data: 'parent comes later' },
    { name: 'implicit', type: 'dir', mode: 0o700 },
    { name: 'repeat', data: 'first version, longer than the second one' },
    { name: 'repeat', data: 'second' },
    {
      name: 'xattrs',
      data: 'x',
      pax: { 'SCHILY.xattr.user.comment': 'hello' },
      paxBinary: { 'SCHILY.xattr.user.bin': Buffer.from([0, 1, 2, 255, 0]).toString('base64') },
    },
    { name: 'unicode-ü-目录', type: 'dir' },
  ];
}

export interface TreeNode {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number; // permission bits incl. suid/sgid/sticky
  uid: number;
  gid: number;
  size: number;
  mtimeNs: string; // bigint as text
  nlink: number;
  ino: number;
  sha256?: string;
  target?: string;
  rdev?: [number, number];
  xattrs: Record<string, string>; // base64
}

/**
 * Walk a directory tree (a loop mount of an image, or a `tar -x` reference
 * extraction) and describe every node, so two trees can be compared entry by
 * entry: type, mode, owner, size, content hash, link target, device numbers,
 * xattrs, link counts and mtimes to the nanosecond.
 */
export function describeTree(root: string, options: { xattrPrefixes?: string[] } = {}): Map<string, TreeNode> {
  const script = String.raw`
import os, sys, json, stat, hashlib, base64
root = sys.argv[1]; prefixes = json.loads(sys.argv[2])
out = []
def node(p, rel):
    st = os.lstat(p); m = st.st_mode
    t = 'file' if stat.S_ISREG(m) else 'dir' if stat.S_ISDIR(m) else 'symlink' if stat.S_ISLNK(m) else 'char' if stat.S_ISCHR(m) else 'block' if stat.S_ISBLK(m) else 'fifo' if stat.S_ISFIFO(m) else 'socket'
    d = dict(path=rel, type=t, mode=stat.S_IMODE(m), uid=st.st_uid, gid=st.st_gid, size=st.st_size if t in ('file', 'symlink') else 0,
             mtimeNs=str(st.st_mtime_ns), nlink=st.st_nlink, ino=st.st_ino, xattrs={})
    if t == 'file':
        h = hashlib.sha256()
        with open(p, 'rb') as f:
            while True:
                b = f.read(1 << 20)
                if not b: break
                h.update(b)
        d['sha256'] = h.hexdigest()
    if t == 'symlink': d['target'] = os.readlink(p)
    if t in ('char', 'block'): d['rdev'] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    try:
        for k in sorted(os.listxattr(p, follow_symlinks=False)):
            if any(k.startswith(x) for x in prefixes):
                d['xattrs'][k] = base64.b64encode(os.getxattr(p, k, follow_symlinks=False)).decode()
    except OSError: pass
    out.append(d)
for dirpath, dirs, files in os.walk(root):
    dirs.sort()
    rel = os.path.relpath(dirpath, root)
    node(dirpath, '' if rel == '.' else rel)
    for f in sorted(files + [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]):
        p = os.path.join(dirpath, f)
        node(p, os.path.relpath(p, root))
json.dump(out, sys.stdout)
`;
  const prefixes = options.xattrPrefixes ?? ['user.', 'trusted.', 'security.'];
  const nodes = JSON.parse(execFileSync('python3', ['-c', script, root, JSON.stringify(prefixes)], { maxBuffer: 1 << 30 }).toString()) as TreeNode[];
  return new Map(nodes.map((n) => [n.path, n]));
}

/** Mount an ext4 image (a trailing VHD footer is harmless) read-only on a loop device for the callback. */
export async function withLoopMount<T>(image: string, fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'lcow-mnt-'));
  execFileSync('mount', ['-t', 'ext4', '-o', 'loop,ro', image, dir]);
  try {
    return await fn(dir);
  } finally {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `e2fsck -fn` output and exit status (0 = clean). */
export function e2fsck(image: string): { status: number; output: string } {
  try {
    const out = execFileSync('e2fsck', ['-fn', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { status: 0, output: out };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { status: err.status, output: `${err.stdout}${err.stderr}` };
  }
}

/** GNU tar's own extraction of an archive: the reference tree to compare an image with. */
export function extractReference(tarPath: string, dir: string): void {
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-owner', '-p', '-xf', tarPath, '-C', dir]);
}

/**
 * Bundle `lcow convert` (src/cli/convert.ts, npm packages left external) into
 * one ESM file with esbuild, so that a child process can run the converter
 * without a TypeScript loader: its peak RSS is then the converter's own
 * (tsx alone costs ~130 MiB, mostly its esbuild service process).
 * Prints `lcow: CODE: message` and exits 1 on an LcowError, like the dispatcher.
 */
export async function bundleConverterCli(repoRoot: string): Promise<string> {
  const { build } = await import('esbuild');
  const dir = join(repoRoot, 'node_modules', '.cache', 'lcow-convert-bundle');
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, `entry-${process.pid}.ts`);
  writeFileSync(
    entry,
    `import { run } from ${JSON.stringify(join(repoRoot, 'src/cli/convert.ts'))};
import { isLcowError } from ${JSON.stringify(join(repoRoot, 'src/errors.ts'))};
run(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => {
  process.stderr.write(isLcowError(e) ? 'lcow: ' + e.code + ': ' + e.message + '\\n' : String(e?.stack ?? e) + '\\n');
  process.exitCode = 1;
});
`,
  );
  const out = join(dir, `convert-${process.pid}.mjs`);
  try {
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: out,
      logLevel: 'error',
    });
  } finally {
    rmSync(entry, { force: true });
  }
  // One bundle per process, removed when the process (test worker, bench) exits.
  process.once('exit', () => rmSync(out, { force: true }));
  return out;
}

const SPARSE_EQUAL = String.raw`
import os, sys
def segments(p):
    fd = os.open(p, os.O_RDONLY); size = os.fstat(fd).st_size; out = []; pos = 0
    while pos < size:
        try: start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError: break
        end = os.lseek(fd, start, os.SEEK_HOLE); out.append((start, end)); pos = end
    os.close(fd); return size, out
(sa, a), (sb, b) = segments(sys.argv[1]), segments(sys.argv[2])
if sa != sb: print('size', sa, sb); sys.exit()
fa, fb = open(sys.argv[1], 'rb'), open(sys.argv[2], 'rb')
for s, e in sorted(a + b):
    fa.seek(s); fb.seek(s)
    while s < e:
        n = min(1 << 20, e - s)
        if fa.read(n) != fb.read(n): print('differs at', s); sys.exit()
        s += n
print('equal')
`;

/**
 * Compare two (possibly huge, sparse) files without reading their holes: the
 * union of both files' data segments (SEEK_DATA/SEEK_HOLE) is compared byte
 * for byte; outside it both read as zeros. 'equal', or what differs.
 */
export function sparseFilesEqual(a: string, b: string): string {
  return execFileSync('python3', ['-c', SPARSE_EQUAL, a, b]).toString().trim();
}
