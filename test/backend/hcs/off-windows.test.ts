/**
 * The hcs backend off Windows: importable and constructible, no DLL loaded
 * at import, EPLATFORM at createVm.
 */
import koffi from 'koffi';
import { describe, expect, it, vi } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { testVmSpec } from '../../helpers/vm-spec.js';

const spec = testVmSpec({ id: 'p', boot: { kind: 'kernel-initrd', kernelPath: 'C:\\k', initrdPath: 'C:\\i' } });

describe.skipIf(process.platform === 'win32')('hcs backend on a non-Windows host', () => {
  it('imports and constructs without loading any library, then rejects createVm with EPLATFORM', async () => {
    const load = vi.spyOn(koffi, 'load');
    const { HcsBackend } = await import('../../../src/backend/hcs/index.js');
    const b = new HcsBackend();
    expect(b.name).toBe('hcs');
    expect(load).not.toHaveBeenCalled();
    const err = await b.createVm(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isLcowError(err, 'EPLATFORM')).toBe(true);
    expect((err as Error).message).toMatch(/^HCS is not available on this platform \(/);
    expect(load).not.toHaveBeenCalled();
    load.mockRestore();
  });

  it('createVhdxViaVirtdisk rejects with EPLATFORM too', async () => {
    const { createVhdxViaVirtdisk } = await import('../../../src/backend/hcs/index.js');
    await expect(createVhdxViaVirtdisk('/tmp/x.vhdx', 1)).rejects.toMatchObject({ code: 'EPLATFORM' });
  });
});

describe('hcs library loading', () => {
  it('a library that cannot be opened is EPLATFORM, not a crash', async () => {
    const { HcsBackend } = await import('../../../src/backend/hcs/index.js');
    const b = new HcsBackend({ libraries: { computecore: '/nonexistent/computecore.so', kernel32: '/x', virtdisk: '/x' } });
    await expect(b.createVm(spec)).rejects.toMatchObject({ code: 'EPLATFORM', context: { library: '/nonexistent/computecore.so' } });
  });
});
