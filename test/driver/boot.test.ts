import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BootSpec } from '../../src/backend/types.js';
import { bootFromOptions, checkBootOptions } from '../../src/driver/boot.js';
import { parseLcowOptions } from '../../src/driver/options.js';

const kird = mkdtempSync(path.join(tmpdir(), 'kird-'));
for (const f of ['kernel', 'initrd.img', 'vmlinuz', 'uvm.vhdx']) writeFileSync(path.join(kird, f), 'x');
afterAll(() => rmSync(kird, { recursive: true, force: true }));
const fallback = async (): Promise<BootSpec> => ({ kind: 'kernel-initrd', kernelPath: '/default/vmlinuz', initrdPath: '/default/initrd' });
const boot = (opts: string[]) => bootFromOptions(parseLcowOptions(opts), fallback);

describe('boot files from lcow.* options', () => {
  it('none given: the backend default (undefined here)', async () => {
    expect(await boot([])).toBeUndefined();
  });
  it('kirdpath: kernel and initrd.img in it, names overridable', async () => {
    expect(await boot([`lcow.kirdpath=${kird}`])).toEqual({
      kind: 'kernel-initrd',
      kernelPath: path.join(kird, 'kernel'),
      initrdPath: path.join(kird, 'initrd.img'),
    });
    expect(await boot([`lcow.kirdpath=${kird}`, 'lcow.kernel=vmlinuz'])).toMatchObject({ kernelPath: path.join(kird, 'vmlinuz') });
  });
  it('an absolute kernel alone keeps the default initrd', async () => {
    expect(await boot([`lcow.kernel=${path.join(kird, 'vmlinuz')}`])).toEqual({
      kind: 'kernel-initrd',
      kernelPath: path.join(kird, 'vmlinuz'),
      initrdPath: '/default/initrd',
    });
  });
  it('vhdx: boots a root-file-system image', async () => {
    expect(await boot([`lcow.kirdpath=${kird}`, 'lcow.vhdx=uvm.vhdx'])).toEqual({
      kind: 'rootfs-image',
      kernelPath: path.join(kird, 'kernel'),
      imagePath: path.join(kird, 'uvm.vhdx'),
    });
  });
  it('missing files and relative names without kirdpath are EBADOPTION naming the option', async () => {
    await expect(checkBootOptions(parseLcowOptions([`lcow.kirdpath=${kird}`, 'lcow.initrd=nope.img']))).rejects.toMatchObject({
      code: 'EBADOPTION',
      context: { option: 'lcow.initrd', value: 'nope.img' },
    });
    await expect(checkBootOptions(parseLcowOptions(['lcow.kernel=vmlinuz']))).rejects.toMatchObject({ code: 'EBADOPTION', context: { option: 'lcow.kernel' } });
    await expect(checkBootOptions(parseLcowOptions([`lcow.kirdpath=${kird}`, 'lcow.vhdx=/no/such.vhdx']))).rejects.toMatchObject({
      code: 'EBADOPTION',
      context: { option: 'lcow.vhdx' },
    });
    await expect(checkBootOptions(parseLcowOptions(['lcow.kirdpath=/no/such/dir']))).rejects.toMatchObject({
      code: 'EBADOPTION',
      context: { option: 'lcow.kirdpath' },
    });
  });
});
