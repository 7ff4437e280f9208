// The guest image the vm project's global setup built: cached by input hash,
// complete, and reported by `lcow image build --json`. A vm-project file though
// it boots nothing: only that project builds the image first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { ensureGuestImage } from '../../../src/backend/qemu/index.js';
import { run } from '../../../src/cli/image-build.js';

describe('guest image', () => {
  it('is found in the cache without rebuilding', async () => {
    const img = await ensureGuestImage();
    expect(img.built).toBe(false);
    expect(img.dir).toMatch(new RegExp(`guest-${img.manifest.hash}$`));
    for (const f of [img.kernelPath, img.initrdPath, img.manifestPath]) expect(existsSync(f)).toBe(true);
    expect(img.manifest.modules).toContain('virtio_scsi');
  });

  it('holds init, busybox, qemu-ga with its loader, and the modules with a modules.dep', async () => {
    const img = await ensureGuestImage();
    const cpio = execFileSync('sh', ['-c', 'zstd -dc "$1" | cpio -t --quiet', 'sh', img.initrdPath], { maxBuffer: 64 << 20 })
      .toString()
      .split('\n');
    const rel = `lib/modules/${img.manifest.kernelRelease}`;
    for (const want of ['init', 'bin/busybox', 'bin/sh', 'usr/sbin/qemu-ga', 'lib64/ld-linux-x86-64.so.2', 'etc/lcow-modules', `${rel}/modules.dep`]) {
      expect(cpio).toContain(want);
    }
    for (const mod of ['virtio_pci', 'virtio_console', 'virtio_scsi', 'sd_mod', 'virtio_pmem', 'nd_pmem', 'overlay', 'libnvdimm', 'scsi_mod']) {
      expect(cpio.some((f) => f.startsWith(rel) && f.endsWith(`/${mod}.ko`))).toBe(true);
    }
  });

  it('`lcow image build --json` prints the paths', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    try {
      expect(await run(['--json'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const info = JSON.parse(out.join('')) as Record<string, unknown>;
    expect(info).toMatchObject({ built: false });
    expect(existsSync(info.kernel as string)).toBe(true);
    expect(existsSync(info.initrd as string)).toBe(true);
    await expect(run(['--bogus'])).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe.skipIf(!process.env.LCOW_GCS_BINARY)('the gcs variant of the guest image (skipped: set LCOW_GCS_BINARY=/path/to/gcs)', () => {
  it('sits beside the default one and holds the GCS, its init hook, the vmbus shim table and dm_mod', async () => {
    const img = await ensureGuestImage({ gcsBinary: process.env.LCOW_GCS_BINARY });
    expect(img.dir).toMatch(new RegExp(`guest-gcs-${img.manifest.hash}$`));
    expect(img.manifest.gcsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(img.manifest.modules).toEqual(expect.arrayContaining(['dm_mod', 'overlay']));
    const cpio = execFileSync('sh', ['-c', 'zstd -dc "$1" | cpio -t --quiet', 'sh', img.initrdPath], { maxBuffer: 64 << 20 })
      .toString()
      .split('\n');
    for (const want of ['bin/gcs', 'etc/lcow-init.d/gcs.sh', 'etc/lcow-gcs/scsi-controllers', 'usr/sbin/qemu-ga']) expect(cpio).toContain(want);
    expect(cpio.some((f) => f.endsWith('/dm-mod.ko'))).toBe(true);
    expect((await ensureGuestImage()).dir).not.toBe(img.dir);
  });
});
