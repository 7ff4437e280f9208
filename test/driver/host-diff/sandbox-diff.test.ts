/**
 * A sandbox written by the kernel: two layers loop-mounted read-only as
 * overlay lowerdirs, upper/work on a loop-mounted empty ext4 (`/upper`,
 * `/work` at its root, as the union mount lays them out), container-style
 * edits through the merged mount (incl. deletes, a directory removed, and an
 * rm -rf + mkdir that overlay records as an opaque dir), then the raw disk
 * converted to VHDX with qemu-img. sandboxToTar and changes must report
 * exactly those edits, in the layer-tar whiteout form, with overlay's own
 * xattrs (origin, impure…) gone.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changes, diffSize } from '../../../src/driver/host-diff/changes.js';
import { isLcowError } from '../../../src/errors.js';
import { sandboxToTar } from '../../../src/driver/host-diff/to-tar.js';
import { buildExt4, readTar, sha256, tmpDir, type SpecEntry, type TarSeen, TestMounts } from './helpers/fixtures.js';
import { OPENERS } from './helpers/openers.js';

const L1: SpecEntry[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/passwd', type: 'file', content: 'root\n' },
  { path: 'etc/hosts', type: 'file', content: 'localhost\n' },
  { path: 'usr/lib', type: 'dir' },
  { path: 'usr/lib/a.so', type: 'file', content: 'a' },
  { path: 'usr/share/doc', type: 'dir' },
  { path: 'usr/share/doc/README', type: 'file', content: 'readme' },
  { path: 'usr/share/misc', type: 'file', content: 'misc' },
];
const L2: SpecEntry[] = [
  { path: 'opt/tool', type: 'dir' },
  { path: 'opt/tool/bin', type: 'file', content: 'bin' },
  { path: 'etc', type: 'dir' },
  { path: 'etc/hosts', type: 'file', content: 'localhost2\n' },
];

let work: string;
let l1: string, l2: string, sandbox: string;
const mounts = new TestMounts();
const mount = (args: string[], dir: string) => mounts.mount(args, dir);
const umount = (dir: string) => mounts.umount(dir);

beforeAll(() => {
  work = tmpDir('lcow-sbx-');
  l1 = path.join(work, 'l1.vhd');
  l2 = path.join(work, 'l2.vhd');
  buildExt4(l1, L1);
  buildExt4(l2, L2);
  sandbox = kernelSandbox('plain', '', (m) => {
    fs.appendFileSync(m('etc/passwd'), 'user\n'); // copy-up + modify
    fs.writeFileSync(m('etc/new'), 'new file!'); // add
    fs.linkSync(m('etc/new'), m('etc/new-link')); // add (hard link)
    fs.chmodSync(m('etc/hosts'), 0o600); // metadata-only copy-up
    fs.rmSync(m('usr/lib/a.so')); // whiteout
    fs.rmSync(m('opt/tool'), { recursive: true }); // whiteout of a directory
    fs.rmSync(m('usr/share'), { recursive: true }); // rm -rf + mkdir → opaque
    fs.mkdirSync(m('usr/share'));
    fs.writeFileSync(m('usr/share/fresh'), 'fresh');
    fs.symlinkSync('/etc/new', m('link-to-new')); // add
    fs.writeFileSync(m('tmpfile'), 'x');
    fs.rmSync(m('tmpfile')); // created and deleted: leaves no trace
  });
});

/**
 * Layers l2:l1 as lowerdirs, upper/work at the root of a fresh ext4, `edit`
 * applied through the merged mount; returns the sandbox as a VHDX.
 */
function kernelSandbox(name: string, extraOptions: string, edit: (m: (p: string) => string) => void): string {
  const dir = path.join(work, name);
  const raw = path.join(dir, 'sandbox.raw');
  fs.mkdirSync(dir);
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-O', '^has_journal', raw, '64M']);
  const [m1, m2, sb, merged] = ['m1', 'm2', 'sb', 'merged'].map((d) => path.join(dir, d));
  mount(['-o', 'loop,ro', l1], m1!);
  mount(['-o', 'loop,ro', l2], m2!);
  mount(['-o', 'loop', raw], sb!);
  fs.mkdirSync(path.join(sb!, 'upper'));
  fs.mkdirSync(path.join(sb!, 'work'));
  mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${m2}:${m1},upperdir=${sb}/upper,workdir=${sb}/work${extraOptions}`], merged!);
  try {
    edit((p) => path.join(merged!, p));
  } finally {
    for (const d of [merged, sb, m2, m1]) umount(d!);
  }
  const vhdx = path.join(dir, 'sandbox.vhdx');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
  return vhdx;
}

afterAll(() => {
  mounts.umountAll();
  fs.rmSync(work, { recursive: true, force: true });
});

describe.each(OPENERS)('a sandbox the kernel wrote, read through %s', (_how, open) => {
  let entries: TarSeen[];
  beforeAll(async () => {
    entries = await readTar(sandboxToTar(sandbox, { open }));
  });
  const get = (n: string) => entries.find((e) => e.name === n);

  it('diffs to exactly the upper dir, with overlay whiteouts as .wh. entries', () => {
    expect(entries.map((e) => e.name).sort()).toEqual(
      [
        'etc',
        'etc/hosts',
        'etc/new',
        'etc/new-link',
        'etc/passwd',
        'link-to-new',
        'opt',
        'opt/.wh.tool',
        'usr',
        'usr/lib',
        'usr/lib/.wh.a.so',
        'usr/share',
        'usr/share/.wh..wh..opq',
        'usr/share/fresh',
      ].sort(),
    );
  });

  it('carries the new content, the hard link and the mode change', () => {
    expect(get('etc/passwd')).toMatchObject({ type: 'file', sha256: sha256('root\nuser\n') });
    expect(get('etc/new')).toMatchObject({ type: 'file', sha256: sha256('new file!') });
    expect(get('etc/new-link')).toMatchObject({ type: 'link', linkname: 'etc/new' });
    expect(get('etc/hosts')).toMatchObject({ type: 'file', mode: 0o600, sha256: sha256('localhost2\n') });
    expect(get('link-to-new')).toMatchObject({ type: 'symlink', linkname: '/etc/new' });
  });

  it('drops every trusted.overlay.* attribute overlay wrote', () => {
    for (const e of entries) expect(Object.keys(e.xattrs).filter((k) => k.startsWith('trusted.overlay.'))).toEqual([]);
  });

  it('changes lists exactly those edits against the lower layers', async () => {
    expect(await changes(sandbox, [l2, l1], { open })).toEqual([
      { path: '/etc', kind: 'modify' },
      { path: '/etc/hosts', kind: 'modify' },
      { path: '/etc/new', kind: 'add' },
      { path: '/etc/new-link', kind: 'add' },
      { path: '/etc/passwd', kind: 'modify' },
      { path: '/link-to-new', kind: 'add' },
      { path: '/opt', kind: 'modify' },
      { path: '/opt/tool', kind: 'delete' },
      { path: '/usr', kind: 'modify' },
      { path: '/usr/lib', kind: 'modify' },
      { path: '/usr/lib/a.so', kind: 'delete' },
      { path: '/usr/share', kind: 'modify' },
      { path: '/usr/share/doc', kind: 'delete' },
      { path: '/usr/share/fresh', kind: 'add' },
      { path: '/usr/share/misc', kind: 'delete' },
    ]);
    expect(await diffSize(sandbox, [l2, l1], { open })).toBe('localhost2\n'.length + 'new file!'.length + 'root\nuser\n'.length + 'fresh'.length);
  });
});

describe('an upper dir that depends on its lowers (redirect_dir / metacopy)', () => {
  it('is refused with EUNSUPPORTED rather than diffed wrongly', async () => {
    let redirected: string;
    try {
      redirected = kernelSandbox('redirect', ',redirect_dir=on,metacopy=on', (m) => {
        fs.renameSync(m('usr/share'), m('usr/share2')); // a lower dir renamed: trusted.overlay.redirect
      });
    } catch (err) {
      // a kernel built without redirect_dir support cannot produce such a sandbox
      console.warn(`skipped: ${(err as Error).message}`);
      return;
    }
    const isUnsupported = (e: unknown) => isLcowError(e, 'EUNSUPPORTED');
    await expect(readTar(sandboxToTar(redirected))).rejects.toSatisfy(isUnsupported);
    await expect(changes(redirected, [l2, l1])).rejects.toSatisfy(isUnsupported);

    // metacopy alone: a chmod copies up only the inode, the data stays below
    const metacopy = kernelSandbox('metacopy', ',redirect_dir=on,metacopy=on', (m) => fs.chmodSync(m('etc/passwd'), 0o600));
    await expect(readTar(sandboxToTar(metacopy))).rejects.toSatisfy(isUnsupported);
    // for changes, a metadata-only copy-up is an ordinary modify
    expect(await changes(metacopy, [l2, l1])).toEqual([
      { path: '/etc', kind: 'modify' },
      { path: '/etc/passwd', kind: 'modify' },
    ]);
  });
});
