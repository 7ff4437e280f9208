/**
 * A read-write parent, as moby's Linux daemon makes one under every
 * container (`<id>-init`): the kernel writes an init sandbox through an
 * overlay on a layer, then a container sandbox through an overlay whose
 * lower dirs are the init sandbox's upper dir and that layer — what the
 * service VM mounts. changes and diffSize of the container, given the init
 * sandbox as a parent, must report exactly the container's own edits, with
 * the init layer's whiteouts and opaque directory keeping their meaning.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changes, diffSize } from '../../../src/driver/host-diff/changes.js';
import { buildExt4, tmpDir, type SpecEntry, TestMounts } from './helpers/fixtures.js';
import { OPENERS } from './helpers/openers.js';

const BASE: SpecEntry[] = [
  { path: 'etc', type: 'dir' },
  { path: 'etc/passwd', type: 'file', content: 'root\n' },
  { path: 'etc/hosts', type: 'file', content: 'image hosts\n' },
  { path: 'usr/lib', type: 'dir' },
  { path: 'usr/lib/a.so', type: 'file', content: 'a' },
  { path: 'usr/share/doc', type: 'dir' },
  { path: 'usr/share/doc/README', type: 'file', content: 'readme' },
];

let work: string;
let base: string, init: string, ctr: string;
const mounts = new TestMounts();
const mount = (args: string[], dir: string) => mounts.mount(args, dir);
const umount = (dir: string) => mounts.umount(dir);

/** A sandbox written by the kernel through an overlay on `lowerdirs` (mounted by the caller); returned as a VHDX. */
function kernelSandbox(name: string, lowerdirs: string[], edit: (m: (p: string) => string) => void): string {
  const dir = path.join(work, name);
  const raw = path.join(dir, 'sandbox.raw');
  fs.mkdirSync(dir);
  execFileSync('mkfs.ext4', ['-q', '-F', '-b', '4096', '-O', '^has_journal', raw, '64M']);
  const sb = path.join(dir, 'sb');
  const merged = path.join(dir, 'merged');
  mount(['-o', 'loop', raw], sb);
  fs.mkdirSync(path.join(sb, 'upper'));
  fs.mkdirSync(path.join(sb, 'work'));
  mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdirs.join(':')},upperdir=${sb}/upper,workdir=${sb}/work`], merged);
  try {
    edit((p) => path.join(merged, p));
  } finally {
    umount(merged);
    umount(sb);
  }
  const vhdx = path.join(dir, 'sandbox.vhdx');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
  return vhdx;
}

beforeAll(() => {
  work = tmpDir('lcow-rwparent-');
  base = path.join(work, 'base.vhd');
  buildExt4(base, BASE);
  const baseMnt = path.join(work, 'base-mnt');
  mount(['-o', 'loop,ro', base], baseMnt);
  // What moby's initlayer.Setup does in a real rootfs: unlink, then create.
  init = kernelSandbox('init', [baseMnt], (m) => {
    fs.writeFileSync(m('.dockerenv'), '');
    fs.rmSync(m('etc/hosts'));
    fs.writeFileSync(m('etc/hosts'), '');
    fs.symlinkSync('/proc/mounts', m('etc/mtab'));
    fs.rmSync(m('usr/lib/a.so')); // a whiteout in the init layer
    fs.rmSync(m('usr/share'), { recursive: true }); // an opaque directory in the init layer
    fs.mkdirSync(m('usr/share'));
    fs.writeFileSync(m('usr/share/init-only'), 'i');
  });
  // The container's union, as the service VM mounts it: the init sandbox's upper dir above the image.
  const initRaw = path.join(work, 'init', 'sandbox.raw');
  const initMnt = path.join(work, 'init-mnt');
  mount(['-o', 'loop,ro,noload', initRaw], initMnt);
  ctr = kernelSandbox('ctr', [path.join(initMnt, 'upper'), baseMnt], (m) => {
    fs.writeFileSync(m('etc/hosts'), '127.0.0.1 c\n'); // modify: the init layer's file
    fs.writeFileSync(m('usr/lib/a.so'), 'again'); // add: the init layer deleted it
    fs.rmSync(m('usr/share/init-only')); // delete: only the init layer has it
    fs.mkdirSync(m('usr/share/doc')); // add: the init layer's opaque usr/share hides the image's doc
    fs.writeFileSync(m('usr/share/doc/x'), 'xx');
    fs.rmSync(m('.dockerenv')); // delete
  });
  umount(initMnt);
  umount(baseMnt);
});

afterAll(() => {
  mounts.umountAll();
  fs.rmSync(work, { recursive: true, force: true });
});

describe.each(OPENERS)('a container over a read-write init layer, read through %s', (_how, open) => {
  it("changes lists the container's own edits, the init layer's whiteout and opaque dir honoured", async () => {
    expect(await changes(ctr, [init, base], { open })).toEqual([
      { path: '/.dockerenv', kind: 'delete' },
      { path: '/etc', kind: 'modify' },
      { path: '/etc/hosts', kind: 'modify' },
      { path: '/usr', kind: 'modify' },
      { path: '/usr/lib', kind: 'modify' },
      { path: '/usr/lib/a.so', kind: 'add' },
      { path: '/usr/share', kind: 'modify' },
      { path: '/usr/share/doc', kind: 'add' },
      { path: '/usr/share/doc/x', kind: 'add' },
      { path: '/usr/share/init-only', kind: 'delete' },
    ]);
  });

  it('diffSize counts the files the container added or modified', async () => {
    expect(await diffSize(ctr, [init, base], { open })).toBe('127.0.0.1 c\n'.length + 'again'.length + 'xx'.length);
  });

  it('the init layer itself, over the image: its own edits', async () => {
    expect((await changes(init, [base], { open })).map((c) => `${c.kind} ${c.path}`)).toEqual([
      'add /.dockerenv',
      'modify /etc',
      'modify /etc/hosts',
      'add /etc/mtab',
      'modify /usr',
      'modify /usr/lib',
      'delete /usr/lib/a.so',
      'modify /usr/share',
      'delete /usr/share/doc',
      'add /usr/share/init-only',
    ]);
  });
});
