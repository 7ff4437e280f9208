import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { isLcowError } from '../../src/errors.js';
import { createUtilityVM } from '../../src/uvm/index.js';

async function rejects(options: Parameters<typeof createUtilityVM>[0], code: string, option?: string) {
  const backend = options.backend as FakeBackend;
  const err = await createUtilityVM(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLcowError(err) && err.code).toBe(code);
  if (option) expect((err as { context: { option: string } }).context.option).toBe(option);
  expect(backend.vms).toHaveLength(0); // nothing created for a bad option
}

describe('UtilityVM options', () => {
  it('defaults: 4 SCSI controllers, 64 VPMEM devices of 4 GiB, the backend default boot', async () => {
    const backend = new FakeBackend();
    const uvm = await createUtilityVM({ id: 'a', backend });
    expect(uvm.options).toMatchObject({ scsiControllers: 4, vpmem: { count: 64, maxSizeBytes: 4 * 1024 ** 3 }, memoryMiB: 1024 });
    expect(backend.vm('a').spec.boot).toEqual(await backend.defaultBoot());
    expect(uvm.state).toBe('created');
  });

  it('rejects more than 4 SCSI controllers, more than 128 VPMEM devices, sizes not a multiple of 4096', async () => {
    const backend = new FakeBackend();
    await rejects({ id: 'a', backend, scsiControllers: 5 }, 'EBADOPTION', 'scsiControllers');
    await rejects({ id: 'a', backend, scsiControllers: 0 }, 'EBADOPTION', 'scsiControllers');
    await rejects({ id: 'a', backend, vpmem: { count: 129 } }, 'EBADOPTION', 'vpmem.count');
    await rejects({ id: 'a', backend, vpmem: { maxSizeBytes: 4096 * 10 + 1 } }, 'EBADOPTION', 'vpmem.maxSizeBytes');
    await rejects({ id: 'a', backend, vpmem: { maxSizeBytes: 0 } }, 'EBADOPTION', 'vpmem.maxSizeBytes');
    await rejects({ id: '', backend }, 'EINVAL');
    await rejects({ id: 'a b', backend }, 'EINVAL');
  });

  it('reads its limits and defaults from the backend it is given', async () => {
    const backend = new FakeBackend({ limits: { scsiControllers: 2, lunsPerController: 2, vpmemDevices: 8, vpmemMaxSizeBytes: 1 << 20 } });
    await rejects({ id: 'n', backend, scsiControllers: 3 }, 'EBADOPTION', 'scsiControllers');
    await rejects({ id: 'n', backend, vpmem: { count: 9 } }, 'EBADOPTION', 'vpmem.count');
    await rejects({ id: 'n', backend, vpmem: { maxSizeBytes: 2 << 20 } }, 'EBADOPTION', 'vpmem.maxSizeBytes');
    const uvm = await createUtilityVM({ id: 'n', backend });
    expect(uvm.options).toMatchObject({ scsiControllers: 2, vpmem: { count: 8, maxSizeBytes: 1 << 20 } });
    expect(backend.vm('n').spec).toMatchObject({ scsiControllers: 2, vpmem: { count: 8, maxSizeBytes: 1 << 20 } });
    // the SCSI manager has 2 × 2 slots: the fifth disk finds none
    await uvm.start();
    const disks = [];
    for (let i = 0; i < 4; i++) disks.push(await uvm.scsi.add(`/d${i}`, { readOnly: true }));
    expect(disks.map((d) => [d.controller, d.lun])).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    await expect(uvm.scsi.add('/d4', { readOnly: true })).rejects.toMatchObject({ code: 'ENOSLOT' });
  });

  it('accepts the limits themselves', async () => {
    const backend = new FakeBackend();
    const uvm = await createUtilityVM({ id: 'a', backend, scsiControllers: 4, vpmem: { count: 128, maxSizeBytes: 4096 } });
    expect(uvm.options.vpmem).toEqual({ count: 128, maxSizeBytes: 4096 });
  });
});
