/**
 * The schema-v2 documents, compared field for field (and in key order) with
 * checked-in golden JSON written from the shapes in koffi-hcs-facts.md §3 and
 * hcsshim-facts.md §6.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { WINDOWS_BOOT, testVmSpec } from '../../helpers/vm-spec.js';
import { lcowDocumentFor } from '../../../src/backend/hcs/backend.js';
import {
  addScsiAttachment,
  addVpmemDevice,
  removeScsiAttachment,
  removeVpmemDevice,
  roundMemoryMiB,
  vpmemImageFormat,
} from '../../../src/backend/hcs/documents/index.js';

function golden(name: string): unknown {
  return JSON.parse(fs.readFileSync(new URL(`./golden/${name}`, import.meta.url), 'utf8'));
}

/** Deep equality plus identical key order (what HCS receives is the JSON text). */
function expectGolden(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

const base = testVmSpec({ memoryMiB: 1024, cpus: 2, boot: WINDOWS_BOOT, vpmem: { count: 64, maxSizeBytes: 4 * 1024 ** 3 } });

describe('LCOW ComputeSystem document', () => {
  it('default UVM (LinuxKernelDirect, 1 SCSI controller, 64 × 4 GiB VPMEM)', () => {
    expectGolden(lcowDocumentFor(base, 'my-lib'), golden('lcow-default.json'));
  });

  it('UEFI boot from the kernel folder over VmbFs', () => {
    const spec: VmSpec = { ...base, boot: { kind: 'kernel-initrd', kernelPath: 'C:\\boot\\kernel', initrdPath: 'C:\\boot\\initrd.img' } };
    expectGolden(lcowDocumentFor(spec, 'my-lib', true), golden('lcow-uefi.json'));
  });

  it('4 SCSI controllers keyed by the hcsshim GUIDs, 128 VPMEM slots, odd memory rounded up to even MB, extra kernel args', () => {
    const spec: VmSpec = { ...base, memoryMiB: 2049, cpus: 4, scsiControllers: 4, vpmem: { count: 128, maxSizeBytes: 4 * 1024 ** 3 }, kernelArgs: 'debug' };
    expectGolden(lcowDocumentFor(spec, 'my-lib'), golden('lcow-4scsi-128pmem.json'));
  });

  it('root file system VHD on VPMEM device 0', () => {
    const spec: VmSpec = { ...base, boot: { kind: 'rootfs-image', kernelPath: 'C:\\boot\\vmlinux', imagePath: 'C:\\boot\\rootfs.vhd' } };
    expectGolden(lcowDocumentFor(spec, 'my-lib'), golden('lcow-rootfs-pmem.json'));
  });

  it('leaves VirtualPMem out when the count is 0', () => {
    const doc = lcowDocumentFor({ ...base, vpmem: { count: 0, maxSizeBytes: 0 } }, 'o');
    expect(Object.keys(doc.VirtualMachine.Devices)).toEqual(['Scsi', 'HvSocket', 'Plan9']);
  });

  it('rounds memory up to an even number of MB', () => {
    expect([1, 2, 3, 1023, 1024].map(roundMemoryMiB)).toEqual([2, 2, 4, 1024, 1024]);
  });

  it.each([
    ['5 SCSI controllers', { scsiControllers: 5 }, 'scsiControllers'],
    ['129 VPMEM devices', { vpmem: { count: 129, maxSizeBytes: 4096 } }, 'vpmem.count'],
    ['a VPMEM size not a multiple of 4096', { vpmem: { count: 1, maxSizeBytes: 4097 } }, 'vpmem.maxSizeBytes'],
    ['0 CPUs', { cpus: 0 }, 'cpus'],
    ['fractional memory', { memoryMiB: 100.5 }, 'memoryMiB'],
  ])('rejects %s with EINVAL naming the field', (_what, patch, field) => {
    try {
      lcowDocumentFor({ ...base, ...(patch as Partial<VmSpec>) }, 'o');
      expect.unreachable();
    } catch (err) {
      expect(isLcowError(err, 'EINVAL')).toBe(true);
      expect((err as { context: { field: string } }).context.field).toBe(field);
    }
  });
});

describe('ModifySettingRequest (host side)', () => {
  const g = golden('modify-requests.json') as Record<string, unknown>;

  it('SCSI add/remove on the controller GUID', () => {
    expectGolden(addScsiAttachment(0, 1, 'C:\\data\\disk.vhdx', false), g.scsiAdd);
    expectGolden(addScsiAttachment(3, 63, 'C:\\layers\\l9.vhd', true), g.scsiAddController3ReadOnly);
    expectGolden(removeScsiAttachment(0, 1), g.scsiRemove);
  });

  it('VPMEM add/remove, image format from the extension', () => {
    expectGolden(addVpmemDevice(1, 'C:\\layers\\l1.vhd'), g.vpmemAdd);
    expectGolden(addVpmemDevice(127, 'C:\\layers\\l2.vhdx'), g.vpmemAddVhdx);
    expectGolden(removeVpmemDevice(1), g.vpmemRemove);
  });

  it('rejects slots outside 4 × 64 LUNs and 128 devices', () => {
    expect(() => addScsiAttachment(4, 0, 'x.vhd', true)).toThrow(/controller/);
    expect(() => addScsiAttachment(0, 64, 'x.vhd', true)).toThrow(/lun/);
    expect(() => addVpmemDevice(128, 'x.vhd')).toThrow(/slot/);
  });

  it('a raw image has no VPMEM image format (addVpmemDevice refuses it as unsuitable); a document for one is EUNSUPPORTED', () => {
    expect(vpmemImageFormat('C:\\l\\layer.img')).toBeUndefined();
    expect(vpmemImageFormat('C:\\l\\layer.VHD')).toBe('Vhd1');
    expect(vpmemImageFormat('C:\\l\\layer', 'vhdx')).toBe('Vhdx');
    try {
      addVpmemDevice(0, 'C:\\l\\layer.img');
      expect.unreachable();
    } catch (err) {
      expect(isLcowError(err, 'EUNSUPPORTED')).toBe(true);
    }
  });
});
