/** selectBackend for both backends, and the contract each one declares. */
import { describe, expect, it } from 'vitest';
import { LCOW_LIMITS, resolveBackendChoice, selectBackend } from '../../src/backend/index.js';
import { HcsBackend, SCSI_CONTROLLER_GUIDS } from '../../src/backend/hcs/index.js';
import { QEMU_LIMITS } from '../../src/backend/qemu/index.js';

describe('selectBackend', () => {
  it("'auto' is hcs on win32 and qemu elsewhere", () => {
    expect(resolveBackendChoice('auto', 'win32')).toBe('hcs');
    expect(resolveBackendChoice('auto', 'linux')).toBe('qemu');
    expect(resolveBackendChoice('hcs', 'linux')).toBe('hcs');
    expect(() => resolveBackendChoice('vbox' as 'hcs')).toThrow(/unknown backend/);
  });

  it("returns an HcsBackend for 'hcs' (and 'auto' on win32) without loading a library", async () => {
    expect(await selectBackend('hcs')).toBeInstanceOf(HcsBackend);
    expect(
      await selectBackend('auto', { platform: 'win32', hcs: { libraries: { computecore: '/nonexistent.so', kernel32: '/x', virtdisk: '/x' } } }),
    ).toBeInstanceOf(HcsBackend);
  });

  it("returns the QEMU backend for 'qemu' (imported lazily)", async () => {
    const b = await selectBackend('qemu');
    expect(b.name).toBe('qemu');
  });

  it('each backend declares its limits (LCOW_LIMITS or narrower) and how it unplugs and maps VPMEM', async () => {
    const hcs = await selectBackend('hcs');
    const qemu = await selectBackend('qemu');
    expect([hcs.limits, hcs.capabilities]).toEqual([LCOW_LIMITS, { vpmemUnplug: 'full', vpmemMapped: true }]);
    expect(SCSI_CONTROLLER_GUIDS).toHaveLength(hcs.limits.scsiControllers);
    expect([qemu.limits, qemu.capabilities]).toEqual([QEMU_LIMITS, { vpmemUnplug: 'same-file-only', vpmemMapped: false }]);
    expect(LCOW_LIMITS).toMatchObject({ scsiControllers: 4, lunsPerController: 64, vpmemDevices: 128 });
    for (const key of Object.keys(LCOW_LIMITS) as (keyof typeof LCOW_LIMITS)[]) expect(qemu.limits[key]).toBeLessThanOrEqual(LCOW_LIMITS[key]);
    expect(qemu.limits.vpmemMaxSizeBytes).toBe(4 * 1024 ** 3);
  });
});
