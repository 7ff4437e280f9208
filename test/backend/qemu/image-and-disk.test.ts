// Pure pieces of the image builder (module closure, ldd, apt parsing) and
// disk-format detection against files qemu-img writes.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockdevArgs, inspectDisk, vpmemMapping } from '../../../src/backend/qemu/disk-format.js';
import { hashInputs, parseKernelDepends, parseVersionField, type ImageInputs } from '../../../src/backend/qemu/image/inputs.js';
import { parseLdd } from '../../../src/backend/qemu/image/ldd.js';
import { moduleClosure, parseModulesBuiltin, parseModulesDep } from '../../../src/backend/qemu/image/modules.js';

describe('image builder parsing', () => {
  it('takes a requested module and its dependencies, skipping built-ins', () => {
    const index = parseModulesDep(
      [
        'kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko',
        'kernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko',
        'kernel/drivers/scsi/scsi_common.ko:',
        'kernel/drivers/nvdimm/nd_pmem.ko: kernel/drivers/nvdimm/libnvdimm.ko',
        'kernel/drivers/nvdimm/libnvdimm.ko:',
      ].join('\n'),
    );
    const builtin = parseModulesBuiltin('kernel/fs/ext4/ext4.ko\n');
    expect(moduleClosure(index, ['sd_mod', 'ext4', 'nd-pmem', 'nope'], builtin)).toEqual({
      files: [
        'kernel/drivers/nvdimm/libnvdimm.ko',
        'kernel/drivers/nvdimm/nd_pmem.ko',
        'kernel/drivers/scsi/scsi_common.ko',
        'kernel/drivers/scsi/scsi_mod.ko',
        'kernel/drivers/scsi/sd_mod.ko',
      ],
      missing: ['nope'],
    });
  });

  it('reads library paths and the loader from ldd', () => {
    const out =
      '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n';
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libglib-2.0.so.0', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('finds the kernel package behind the metapackage and its version', () => {
    expect(parseKernelDepends('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n')).toBe('linux-image-6.1.0-56-cloud-amd64');
    expect(parseVersionField('Package: x\nVersion: 6.1.192-2\n')).toBe('6.1.192-2');
  });

  const base: ImageInputs = {
    kernelPackage: 'k',
    kernelPackageVersion: '1',
    busyboxVersion: 'b',
    qemuGaVersion: 'q',
    runcVersion: 'r',
    modules: ['a'],
    initScript: '#!/bin/sh\n',
  };

  it('hashes every input', () => {
    const h = hashInputs(base);
    for (const change of [
      { kernelPackageVersion: '2' },
      { busyboxVersion: 'c' },
      { qemuGaVersion: 'r' },
      { runcVersion: 's' },
      { modules: ['a', 'b'] },
      { initScript: '#!/bin/sh\n:\n' },
    ]) {
      expect(hashInputs({ ...base, ...change })).not.toBe(h);
    }
    expect(hashInputs({ ...base })).toBe(h);
  });

  const gcs = { binaryPath: '/opt/a/gcs', binarySha256: 'ab'.repeat(32), initHook: 'hook', scsiControllers: 'g 0000:00:04.0\n' };

  it("the gcs variant has its own hash, keyed by the binary's bytes, not its path; the default hash ignores the variant", () => {
    expect(hashInputs({ ...base, gcs })).not.toBe(hashInputs(base));
    expect(hashInputs({ ...base, gcs: { ...gcs, binaryPath: '/elsewhere/gcs' } })).toBe(hashInputs({ ...base, gcs }));
    expect(hashInputs({ ...base, gcs: { ...gcs, binarySha256: 'cd'.repeat(32) } })).not.toBe(hashInputs({ ...base, gcs }));
    expect(hashInputs({ ...base, gcs: { ...gcs, initHook: 'other' } })).not.toBe(hashInputs({ ...base, gcs }));
  });
});

describe('disk format detection', () => {
  let dir: string;
  let raw: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lcow-fmt-'));
    raw = path.join(dir, 'd.raw');
    await writeFile(raw, Buffer.alloc(4 << 20, 1));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('raw: the whole file, opened with the raw driver', async () => {
    const l = await inspectDisk(raw);
    expect(l).toEqual({ format: 'raw', fileSize: 4 << 20 });
    expect(vpmemMapping(l, raw, 4 << 20)).toEqual({ size: 4 << 20 });
    expect(blockdevArgs('n', raw, l, true)).toMatchObject({ driver: 'raw', 'read-only': true, file: { driver: 'file', filename: raw, 'read-only': true } });
  });

  it('fixed VHD: raw driver with the footer cut off', async () => {
    const vhd = path.join(dir, 'd.vhd');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, vhd]);
    const l = await inspectDisk(vhd);
    expect(l).toMatchObject({ format: 'vhd', fixedVhdDataSize: 4 << 20 });
    expect(blockdevArgs('n', vhd, l, false)).toMatchObject({ driver: 'raw', offset: 0, size: 4 << 20 });
    expect(vpmemMapping(l, vhd, 4 << 20)).toEqual({ size: 4 << 20 }); // the footer is not mapped, so it does not count
  });

  it('dynamic VHD and VHDX: their own drivers, and not mappable', async () => {
    const dyn = path.join(dir, 'dyn.vhd');
    const vhdx = path.join(dir, 'd.vhdx');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', raw, dyn]);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, vhdx]);
    const ld = await inspectDisk(dyn);
    expect(blockdevArgs('n', dyn, ld, true).driver).toBe('vpc');
    const lx = await inspectDisk(vhdx);
    expect(lx.format).toBe('vhdx');
    expect(blockdevArgs('n', vhdx, lx, true).driver).toBe('vhdx');
    expect(vpmemMapping(lx, vhdx, 1 << 30)).toMatchObject({ added: false, refused: 'unsuitable', detail: expect.stringContaining('vhdx') });
    expect(vpmemMapping(ld, dyn, 1 << 30)).toMatchObject({ added: false, refused: 'unsuitable' });
  });

  it("VPMEM refusals: over the VM's device maximum is 'too-large'; empty or not a multiple of 2 MiB is 'unsuitable'", () => {
    const raw = (fileSize: number) => ({ format: 'raw' as const, fileSize });
    expect(vpmemMapping(raw(8 << 20), 'r', 4 << 20)).toMatchObject({ added: false, refused: 'too-large' });
    expect(vpmemMapping(raw(3 << 20), 'r', 4 << 20)).toMatchObject({ added: false, refused: 'unsuitable' });
    expect(vpmemMapping(raw(0), 'r', 4 << 20)).toMatchObject({ added: false, refused: 'unsuitable' });
    expect(vpmemMapping(raw(2 << 20), 'r', 2 << 20)).toEqual({ size: 2 << 20 });
  });

  it('a missing file is ENOTFOUND', async () => {
    await expect(inspectDisk(path.join(dir, 'none'))).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});
