// The per-run OCI config: what a container may do is decided here, so the
// dangerous parts are pinned one by one.
import { describe, expect, it } from 'vitest';
import { CONTAINER_CAPABILITIES, DEFAULT_CONTAINER_PATH, ociConfig, type ContainerProcess } from '../../src/driver/oci-config.js';

const base = { rootfs: '/run/lcow/r1/rootfs', readonlyRootfs: false, id: 'r1-1', hostname: 'ctr', args: ['/bin/sh', '-c', 'echo "$1"', 'a b'] };

describe('ociConfig', () => {
  it('isolates: own namespaces, no mount/mknod/raw-io capability, no new privileges, every device denied', () => {
    const c = ociConfig(base);
    expect(c.linux.namespaces.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
    for (const set of Object.values(c.process.capabilities)) {
      for (const cap of ['CAP_SYS_ADMIN', 'CAP_MKNOD', 'CAP_SYS_RAWIO', 'CAP_SYS_MODULE', 'CAP_SYS_PTRACE']) expect(set).not.toContain(cap);
    }
    expect(c.process.capabilities.bounding).toEqual([...CONTAINER_CAPABILITIES]);
    expect(c.process.capabilities.inheritable).toEqual([]);
    expect(c.process.capabilities.ambient).toEqual([]);
    expect(c.process.noNewPrivileges).toBe(true);
    expect(c.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
    // /dev is the container's own tmpfs (runc fills in null, zero, full, random, urandom, tty); /sys read-only
    expect(c.mounts.find((m) => m.destination === '/dev')).toMatchObject({ type: 'tmpfs' });
    expect(c.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(c.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    expect(c.mounts.some((m) => m.options?.includes('bind') || m.type === 'bind')).toBe(false); // nothing of the VM is shared in
    expect(c.linux.maskedPaths).toContain('/proc/kcore');
    expect(c.linux.readonlyPaths).toContain('/proc/sys');
  });

  it('carries argv as an array, env with a default PATH, cwd, the rootfs and its writability', () => {
    const c = ociConfig({ ...base, readonlyRootfs: true, env: { X: 'x y', PATH: '/bin' }, cwd: '/tmp' });
    expect(c.process.args).toEqual(base.args);
    expect(c.process.env).toEqual(['PATH=/bin', 'X=x y']);
    expect(c.process.cwd).toBe('/tmp');
    expect(c.root).toEqual({ path: base.rootfs, readonly: true });
    expect(c.process.terminal).toBe(false);
    expect(c.linux.cgroupsPath).toBe('/lcow/r1-1');
    expect(ociConfig(base).process).toMatchObject({ env: [`PATH=${DEFAULT_CONTAINER_PATH}`], cwd: '/', user: { uid: 0, gid: 0 } });
  });

  it('refuses what execve or runc could not take', () => {
    const bads: Partial<ContainerProcess>[] = [
      { args: [] },
      { args: ['a\0b'] },
      { env: { 'A=B': 'x' } },
      { env: { '': 'x' } },
      { env: { A: 'x\0' } },
      { cwd: 'relative' },
      { cwd: '/a\0' },
    ];
    for (const bad of bads) {
      expect(() => ociConfig({ ...base, ...bad })).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });
});
