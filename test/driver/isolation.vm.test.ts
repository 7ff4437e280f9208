// Container processes under runc in real service VMs, tried as an attacker
// would: mount devtmpfs, open the VM's block devices, mknod one, mount proc
// over the rootfs. Every attempt fails (or could only touch the container's
// own namespaces), `put` still unmounts and the write made before is in
// `changes`. In global mode one container cannot read or plant another's
// files. Then the ordinary process contract: stdin, exit status, cwd/env,
// a program that cannot start, and a time limit that kills the container.
// (A signal's 128 + n is runc's report; the container's PID 1 cannot be
// killed from inside its own namespace, so there is no cheap test of it.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowDriver } from '../../src/driver/index.js';
import { testBackend } from '../helpers/vm.js';
import { busyboxItems } from './helpers/busybox-layer.js';
import { layerTar } from './helpers/layers.js';

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

async function openDriver(options: string[] = []): Promise<LcowDriver> {
  const root = mkdtempSync(path.join(tmpdir(), 'lcow-iso-vm-'));
  roots.push(root);
  const d = await LcowDriver.open(root, { options, backend: testBackend(), serviceVm: { vpmem: { count: 4 } } });
  await d.applyDiff('base', '', layerTar(busyboxItems()));
  return d;
}

/**
 * Each attempt prints ALLOWED when it got through, else `refused`; the
 * applets run as `busybox <applet>`, so the layer needs no more symlinks.
 */
const ATTACK = String.raw`
bb=busybox
echo written-before > /before.txt
$bb mount -t devtmpfs devtmpfs /tmp && echo "ALLOWED devtmpfs" || echo "refused devtmpfs"
$bb mount -t proc proc /proc && echo "ALLOWED proc" || echo "refused proc"
$bb mount -t proc proc /tmp && echo "ALLOWED proc-elsewhere" || echo "refused proc-elsewhere"
$bb mknod /tmp/sda b 8 0 && echo "ALLOWED mknod" || echo "refused mknod"
$bb mknod /dev/sdz b 8 0 && echo "ALLOWED mknod-dev" || echo "refused mknod-dev"
for d in /dev/sda /dev/pmem0 /dev/sd* /dev/pmem* /dev/vd* /tmp/sda /dev/sdz; do
  $bb dd if="$d" of=/dev/null bs=512 count=1 2>/dev/null && echo "ALLOWED read $d" || echo "refused read $d"
done
$bb ls /dev
`;

describe('container processes are isolated (safe mode)', () => {
  it('cannot mount, reach a block device or mknod one; put unmounts and keeps the write', async () => {
    const d = await openDriver();
    try {
      await d.createReadWrite('ctr', 'base');
      const h = await d.get('ctr');
      const r = await h.run(['/bin/sh', '-c', ATTACK]);
      const out = r.stdout.toString();
      expect(out).not.toContain('ALLOWED');
      for (const what of ['devtmpfs', 'proc', 'proc-elsewhere', 'mknod', 'mknod-dev', 'read /dev/sda', 'read /dev/pmem0', 'read /tmp/sda']) {
        expect(out).toContain(`refused ${what}\n`);
      }
      // Only the container's own /dev: no disk of the VM in it…
      const devs = out
        .slice(out.indexOf('refused read /dev/sdz\n') + 'refused read /dev/sdz\n'.length)
        .split('\n')
        .filter(Boolean)
        .sort();
      expect(devs).toEqual(['core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
      // …although the VM has them (the layer on pmem, the sandbox on SCSI).
      const vmDevs = await (await h.vm()).exec(['sh', '-c', 'ls /dev/pmem* /dev/sd*']);
      expect(vmDevs.stdout.toString()).toMatch(/\/dev\/pmem0\n[\s\S]*\/dev\/sda/);
      await d.put('ctr');
      expect(d.status().serviceVms).toEqual([]);
      const changes = await d.changes('ctr', 'base');
      expect(changes).toContainEqual({ path: '/before.txt', kind: 'add' });
      // runc's mount points come from under the union, never from the sandbox
      expect(changes.map((c) => c.path).filter((p) => ['/proc', '/sys', '/dev'].includes(p))).toEqual([]);
    } finally {
      await d.cleanup();
    }
  });

  it('stdin, exit status, cwd and env pass through; a missing program is EGUEST; the time limit kills the container', async () => {
    const d = await openDriver();
    try {
      await d.createReadWrite('ctr', 'base');
      const h = await d.get('ctr');
      const echo = await h.run(['/bin/sh', '-c', 'busybox cat; echo "$X in $(busybox pwd) as pid $$"; echo err >&2; exit 5'], {
        stdin: 'from stdin\n',
        cwd: '/tmp',
        env: { X: 'x y' },
      });
      expect(echo).toMatchObject({ exitCode: 5 });
      expect(echo.stdout.toString()).toBe('from stdin\nx y in /tmp as pid 1\n');
      expect(echo.stderr.toString()).toBe('err\n');
      await expect(h.run(['/no/such/program'])).rejects.toMatchObject({ code: 'EGUEST' });
      const started = Date.now();
      await expect(h.run(['/bin/sh', '-c', 'echo started > /started; busybox sleep 600'], { timeoutMs: 3_000 })).rejects.toMatchObject({
        code: 'ETIMEOUT',
      });
      expect(Date.now() - started).toBeLessThan(60_000);
      const vm = await h.vm();
      // runc delete took the container: no process of it is left in the VM
      expect((await vm.exec(['sh', '-c', 'runc list -q'])).stdout.toString().trim()).toBe('');
      expect((await vm.exec(['sh', '-c', 'ps -o args | grep -c "[s]leep 600"'])).stdout.toString().trim()).toBe('0');
      expect((await h.run(['/bin/cat', '/started'])).stdout.toString()).toBe('started\n');
      await d.put('ctr');
      expect(await d.changes('ctr', 'base')).toContainEqual({ path: '/started', kind: 'add' });
    } finally {
      await d.cleanup();
    }
  });
});

describe('container processes are isolated (global mode)', () => {
  it("one container cannot read or plant another container's files", async () => {
    const d = await openDriver(['lcow.globalmode=true']);
    try {
      await d.createReadWrite('victim', 'base');
      await d.createReadWrite('attacker', 'base');
      const victim = await d.get('victim');
      await victim.writeFile('/secret.txt', 'victim-secret-7f3a\n');
      const attacker = await d.get('attacker');
      expect(await attacker.vm()).toBe(await victim.vm()); // one VM, both unions in it
      const victimRoot = await victim.rootfs();
      const r = await attacker.run([
        '/bin/sh',
        '-c',
        String.raw`
bb=busybox
$bb cat "$1/secret.txt" && echo "ALLOWED read by VM path" || echo "refused read by VM path"
$bb ls /run/m /run/lcow 2>/dev/null && echo "ALLOWED list VM mounts" || echo "refused list VM mounts"
echo planted > "$1/planted.txt" 2>/dev/null && echo "ALLOWED plant" || echo "refused plant"
$bb mount -t devtmpfs devtmpfs /tmp && echo "ALLOWED devtmpfs" || echo "refused devtmpfs"
for p in /proc/[0-9]*; do $bb cat "$p/root/secret.txt" 2>/dev/null && echo "ALLOWED via $p"; done
for top in /*; do
  case "$top" in /proc|/sys|/dev) continue ;; esac
  $bb grep -rl victim-secret "$top" 2>/dev/null && echo "ALLOWED found in $top"
done
echo "searched"
`,
        'sh',
        victimRoot,
      ]);
      const out = r.stdout.toString();
      expect(out).not.toContain('victim-secret');
      expect(out).not.toContain('ALLOWED');
      expect(out).toContain('refused read by VM path');
      expect(out).toContain('refused plant');
      expect(out).toContain('searched');
      await d.put('attacker');
      await d.put('victim');
      expect(await d.changes('victim', 'base')).toEqual([{ path: '/secret.txt', kind: 'add' }]);
      expect((await d.changes('attacker', 'base')).map((c) => c.path)).not.toContain('/planted.txt');
    } finally {
      await d.cleanup();
    }
  });
});
