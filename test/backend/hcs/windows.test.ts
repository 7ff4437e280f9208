/**
 * Runs only on a Windows host (skipped here): the real System32 DLLs bind,
 * one real HCS operation completes through the runner, virtdisk makes a
 * VHDX, and the hvsock worker starts on the real ws2_32 and listens on an
 * AF_HYPERV socket. Needs Hyper-V / the Host Compute Service (and usually
 * elevation) for the HCS and hvsock parts; a refusal must still be a typed
 * EHCS or EHVSOCK error.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { defaultLogger } from '../../../src/log.js';
import { createVhdxViaVirtdisk } from '../../../src/backend/hcs/vhdx.js';
import { callAsync } from '../../../src/backend/hcs/native/call-async.js';
import { loadNativeHcs, systemLibraryPaths } from '../../../src/backend/hcs/native/load.js';
import { loadVirtDisk } from '../../../src/backend/hcs/native/virtdisk.js';
import { OperationRunner } from '../../../src/backend/hcs/operation.js';
import { acquireHvsock, liveHvsockWorkers, vsockServiceId } from '../../../src/backend/hcs/hvsock/index.js';

/** HV_GUID_LOOPBACK: a host listener other host sockets can reach, no VM needed. */
const HV_GUID_LOOPBACK = 'e0e16197-dd56-4a10-9195-5ee7a155a838';

describe.runIf(process.platform === 'win32')('on a Windows host', () => {
  it('binds every required export of computecore, kernel32 and virtdisk from System32', () => {
    const native = loadNativeHcs(systemLibraryPaths());
    expect(typeof native.cc.HcsCreateOperation).toBe('function');
    expect(typeof native.k32.LocalFree).toBe('function');
    expect(typeof loadVirtDisk(systemLibraryPaths().virtdisk).CreateVirtualDisk).toBe('function');
  });

  it('HcsEnumerateComputeSystems completes through the operation runner (or fails typed)', async () => {
    const native = loadNativeHcs(systemLibraryPaths());
    const runner = new OperationRunner(native, { logger: defaultLogger() });
    try {
      const r = await runner.run('HcsEnumerateComputeSystems', (op) => callAsync(native.cc.HcsEnumerateComputeSystems, null, op), { timeoutMs: 30_000 });
      expect(Array.isArray(JSON.parse(r.document ?? '[]'))).toBe(true);
    } catch (err) {
      expect(isLcowError(err, 'EHCS')).toBe(true);
    }
  });

  it('the hvsock worker starts on the real ws2_32 (WSAStartup on its thread) and listens on AF_HYPERV, or fails typed', async () => {
    const lease = await acquireHvsock({ library: systemLibraryPaths().ws2_32! });
    try {
      const listener = await lease.transport.listen(HV_GUID_LOOPBACK, vsockServiceId(0x7fff0001)).catch((err: unknown) => {
        expect(isLcowError(err, 'EHVSOCK')).toBe(true); // e.g. WSAEACCES without the rights hcsshim runs with
        return undefined;
      });
      listener?.close();
    } finally {
      await lease.release();
    }
    expect(liveHvsockWorkers()).toBe(0);
  });

  it('createVhdxViaVirtdisk creates a dynamic VHDX', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhdx-'));
    try {
      const file = path.join(dir, 'sandbox données.vhdx');
      await createVhdxViaVirtdisk(file, 1, 1);
      expect(fs.readFileSync(file).subarray(0, 8).toString('latin1')).toBe('vhdxfile');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
