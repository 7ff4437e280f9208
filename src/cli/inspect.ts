/**
 * `lcow inspect <image> [path] [--json] [--cat FILE]`
 *
 * Shows what is inside an ext4 image — raw, a fixed VHD (layer.vhd) or a
 * VHDX (sandbox.vhdx) — without a VM: a superblock summary and an
 * `ls -l`-like listing of `path` (default /), or with --cat a file's bytes
 * on stdout.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LcowError } from '../errors.js';
import type { Ext4Image, Ext4Stat } from '../ext4/index.js';
import { openExt4Image } from '../layer/index.js';
import { openBlockSource } from '../vhd/index.js';

const USAGE = 'usage: lcow inspect <image> [path] [--json] [--cat FILE]';

interface Args {
  image: string;
  path: string;
  json: boolean;
  cat: string | undefined;
}

function parseArgs(args: string[]): Args | string {
  const pos: string[] = [];
  let json = false;
  let cat: string | undefined;
  const rest = [...args];
  for (let a = rest.shift(); a !== undefined; a = rest.shift()) {
    if (a === '--json') json = true;
    else if (a === '--cat') {
      cat = rest.shift();
      if (cat === undefined) return '--cat needs a file path';
    } else if (a === '--help' || a === '-h') return '';
    else if (a.startsWith('--')) return `unknown option ${a}`;
    else pos.push(a);
  }
  const [image, path = '/', ...extra] = pos;
  if (image === undefined || extra.length > 0) return 'expected an image and at most one path';
  return { image, path, json, cat };
}

const TYPE_CHAR: Record<Ext4Stat['kind'], string> = { file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's' };

/** `drwxr-xr-x`-style mode, with s/S and t/T for setuid, setgid and sticky. */
export function modeString(kind: Ext4Stat['kind'], mode: number): string {
  const rwx = (bits: number, special: boolean, ch: string): string =>
    (bits & 4 ? 'r' : '-') + (bits & 2 ? 'w' : '-') + (special ? (bits & 1 ? ch : ch.toUpperCase()) : bits & 1 ? 'x' : '-');
  return (
    TYPE_CHAR[kind] +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

function timeString(t: { sec: number; nsec: number }): string {
  const d = new Date(t.sec * 1000);
  return Number.isNaN(d.getTime()) ? String(t.sec) : d.toISOString().replace('T', ' ').slice(0, 19);
}

interface Row {
  name: string;
  stat: Ext4Stat;
  target?: string;
}

function rowJson(r: Row): Record<string, unknown> {
  const s = r.stat;
  return {
    name: r.name,
    kind: s.kind,
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    size: s.size,
    nlink: s.nlink,
    inode: s.inode,
    mtime: s.mtime,
    ...(r.target !== undefined ? { target: r.target } : {}),
    ...(s.kind === 'char' || s.kind === 'block' ? { rdev: { major: s.rdevMajor, minor: s.rdevMinor } } : {}),
  };
}

function rowText(r: Row): string {
  const s = r.stat;
  const size = s.kind === 'char' || s.kind === 'block' ? `${s.rdevMajor}, ${s.rdevMinor}` : String(s.size);
  const owner = `${s.uid}:${s.gid}`;
  return `${modeString(s.kind, s.mode)} ${String(s.nlink).padStart(3)} ${owner.padEnd(11)} ${size.padStart(12)} ${timeString(s.mtime)} ${r.name}${
    r.target !== undefined ? ` -> ${r.target}` : ''
  }`;
}

async function rowsFor(img: Ext4Image, path: string): Promise<Row[]> {
  const st = await img.stat(path);
  const withTarget = async (name: string, p: string, stat: Ext4Stat): Promise<Row> =>
    stat.kind === 'symlink' ? { name, stat, target: await img.readlink(p) } : { name, stat };
  if (st.kind !== 'dir') return [await withTarget(path, path, st)];
  const rows: Row[] = [];
  for (const e of await img.readdir(path)) {
    const p = path.endsWith('/') ? path + e.name : `${path}/${e.name}`;
    rows.push(await withTarget(e.name, p, await img.statInode(e.inode)));
  }
  return rows;
}

export async function run(args: string[], out: Writable = process.stdout, err: Writable = process.stderr): Promise<number> {
  const a = parseArgs(args);
  if (typeof a === 'string') {
    err.write(`${a ? `lcow inspect: ${a}\n` : ''}${USAGE}\n`);
    return a ? 2 : 0;
  }
  const source = await openBlockSource(a.image);
  try {
    const img = await openExt4Image(source);
    try {
      if (a.cat !== undefined) {
        const st = await img.stat(a.cat);
        if (st.kind !== 'file') throw new LcowError('EINVAL', `${a.cat} is a ${st.kind}, not a regular file`, { path: a.cat });
        await pipeline(img.createReadStream(a.cat), out, { end: false });
        return 0;
      }
      const sb = img.superblock;
      const rows = await rowsFor(img, a.path);
      if (a.json) {
        const doc = {
          image: { file: a.image, container: source.kind, diskSize: source.size },
          superblock: {
            blockSize: sb.blockSize,
            blocksCount: sb.blocksCount,
            freeBlocksCount: sb.freeBlocksCount,
            inodesCount: sb.inodesCount,
            freeInodesCount: sb.freeInodesCount,
            inodeSize: sb.inodeSize,
            groupCount: sb.groupCount,
            label: sb.label,
            uuid: sb.uuid,
            readOnly: sb.readOnly,
            needsRecovery: sb.needsRecovery,
            features: sb.features,
          },
          path: a.path,
          entries: rows.map(rowJson),
        };
        out.write(JSON.stringify(doc, null, 2) + '\n');
        return 0;
      }
      const lines = [
        `image:    ${a.image} (${source.kind}, ${source.size} bytes)`,
        `ext4:     ${sb.blocksCount} blocks of ${sb.blockSize} bytes (${sb.freeBlocksCount} free), ${sb.inodesCount} inodes of ${sb.inodeSize} bytes (${sb.freeInodesCount} free), ${sb.groupCount} groups`,
        `label:    ${sb.label ? JSON.stringify(sb.label) : '(none)'}   uuid: ${sb.uuid}   read-only: ${sb.readOnly ? 'yes' : 'no'}`,
        `features: ${sb.features.join(' ')}`,
        ...(sb.needsRecovery ? ['warning:  the journal needs recovery; this view does not include its pending changes'] : []),
        '',
        `${a.path}:`,
        ...rows.map(rowText),
      ];
      out.write(lines.join('\n') + '\n');
      return 0;
    } finally {
      await img.close();
    }
  } finally {
    await source.close();
  }
}
