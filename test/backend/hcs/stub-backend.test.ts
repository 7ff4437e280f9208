/**
 * The real HCS backend driven through koffi against the C stand-in for
 * computecore.dll (stub/computecore-stub.c): UTF-16 marshalling, out
 * parameters, result strings freed with the library's LocalFree, completion
 * and exit callbacks fired from the stub's own pthreads, cancellation on
 * timeout, HRESULT → typed errors, and the VM lifecycle. The guest side here
 * is an injected recording connection; the default one (the GCS over
 * hvsockets) is driven in hvsock-vm.test.ts. What this cannot prove (HCS's
 * own behaviour) is listed in src/backend/hcs/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { isLcowError } from '../../../src/errors.js';
import { HcsBackend, lcowDocumentFor, type GuestConnection, type GuestConnectionTarget } from '../../../src/backend/hcs/index.js';
import type { GuestModifyRequest } from '../../../src/backend/gcs/index.js';
import { loadComputeCore } from '../../../src/backend/hcs/native/computecore.js';
import { callAsync } from '../../../src/backend/hcs/native/call-async.js';
import { loadNativeHcs } from '../../../src/backend/hcs/native/load.js';
import { OperationRunner } from '../../../src/backend/hcs/operation.js';
import { defaultLogger } from '../../../src/log.js';
import fc from 'fast-check';
import { eventLoopHolders } from '../../../src/backend/hcs/native/keepalive.js';
import { createVhdxViaVirtdisk } from '../../../src/backend/hcs/vhdx.js';
import type { HcsVm } from '../../../src/backend/hcs/vm.js';
import { rejection, vmSpec } from './helpers.js';
import { buildStubLibrary, type StubLibrary } from './stub-library.js';

let stub: StubLibrary;
beforeAll(() => (stub = buildStubLibrary()));
afterAll(() => stub.cleanup());
beforeEach(() => stub.reset());

const LAYER = 'C:\\données\\層\\layer.vhd';
const SANDBOX = 'C:\\data\\🐳 sandbox.vhdx'; // outside the BMP: a surrogate pair in UTF-16

/** A guest side that records what reaches it (the GCS itself is the hvsock tests' and ../gcs's business). */
function recordingGuest(): GuestConnection & { sent: GuestModifyRequest[]; runs: (readonly string[])[] } {
  const sent: GuestModifyRequest[] = [];
  const runs: (readonly string[])[] = [];
  return {
    sent,
    runs,
    modify: async (r) => void sent.push(r),
    exec: async (argv) => {
      runs.push(argv);
      return { exitCode: 0, stdout: Buffer.from('ran'), stderr: Buffer.alloc(0), truncated: false };
    },
    close: async () => {},
  };
}

function backend(extra: Partial<ConstructorParameters<typeof HcsBackend>[0]> = {}): HcsBackend {
  const guest = recordingGuest();
  return new HcsBackend({ libraries: stub.libraries, owner: 'test', guestConnection: () => guest, ...extra });
}

async function running(id: string, b = backend()): Promise<HcsVm> {
  const vm = await b.createVm(vmSpec(id));
  await vm.start();
  return vm;
}

/** Everything the backend took from the stub it gave back. */
async function expectBalanced(): Promise<void> {
  await vi.waitFor(() => {
    expect(stub.counter('opsClosed')).toBe(stub.counter('opsCreated'));
    expect(stub.counter('frees')).toBe(stub.counter('allocs'));
  });
  expect(stub.counter('violations')).toBe(0);
}

afterEach(async () => {
  await vi.waitFor(() => expect(eventLoopHolders()).toBe(0));
});

describe('HcsVm against the stand-in computecore', () => {
  it('runs the whole lifecycle: create, start, SCSI and VPMEM hot-add/remove, properties, terminate, exit event', async () => {
    const vm = await running('vm-life');
    expect(vm.state).toBe('running');
    await vm.addScsiDisk(0, 1, { hostPath: SANDBOX, readOnly: false });
    expect(await vm.addVpmemDevice(3, { hostPath: LAYER })).toEqual({ added: true });
    const props = await vm.properties();
    await vm.removeVpmemDevice(3);
    await vm.removeScsiDisk(0, 1);
    await vm.terminate();
    expect(await vm.waitExit()).toEqual({ reason: 'terminated', detail: '{"ExitType":"Terminated"}' });
    expect(vm.state).toBe('stopped');
    expect(props).toMatchObject({ id: 'vm-life', backend: 'hcs', memoryMiB: 1024, cpus: 2 });

    const calls = stub.calls();
    expect(calls.map((c) => c.fn)).toEqual([
      'HcsCreateComputeSystem',
      'HcsSetComputeSystemCallback',
      'HcsGetComputeSystemProperties', // the RuntimeId
      'HcsStartComputeSystem',
      'HcsGrantVmAccess',
      'HcsModifyComputeSystem',
      'HcsGrantVmAccess',
      'HcsModifyComputeSystem',
      'HcsGetComputeSystemProperties',
      'HcsModifyComputeSystem',
      'HcsModifyComputeSystem',
      'HcsTerminateComputeSystem',
      'HcsCloseComputeSystem',
    ]);
    // The document crossed as UTF-16 and came back identical.
    expect(calls[0]!.args[0]).toBe('vm-life');
    expect(JSON.parse(calls[0]!.args[1]!)).toEqual(lcowDocumentFor(vmSpec('vm-life'), 'test'));
    // Access granted to exactly the path attached, right before the attach; non-ASCII and astral characters intact.
    expect(calls[4]!.args).toEqual(['vm-life', SANDBOX, null]);
    expect(JSON.parse(calls[5]!.args[1]!)).toEqual({
      ResourcePath: 'VirtualMachine/Devices/Scsi/df6d0690-79e5-55b6-a5ec-c1e2f77f580a/Attachments/1',
      RequestType: 'Add',
      Settings: { Type: 'VirtualDisk', Path: SANDBOX, ReadOnly: false },
    });
    expect(calls[6]!.args).toEqual(['vm-life', LAYER, null]);
    expect(JSON.parse(calls[7]!.args[1]!).Settings).toEqual({ HostPath: LAYER, ReadOnly: true, ImageFormat: 'Vhd1' });
    expect(JSON.parse(calls[9]!.args[1]!)).toEqual({ ResourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/3', RequestType: 'Remove' });
    expect(vm.runtimeId).toMatch(/^c0ffee[0-9a-f]{2}-5e1f-4c0d-9a7b-[0-9a-f]{12}$/);
    // Completions and the exit event came from the stub's threads.
    expect(stub.counter('foreignCallbacks')).toBe(10); // 9 operations + SystemExited
    expect(stub.counter('systemsClosed')).toBe(1);
    await expectBalanced();
  });

  it('frees every result document it receives (properties, process info) with the library free function', async () => {
    const vm = await running('vm-free');
    for (let i = 0; i < 5; i++) await vm.properties();
    expect(stub.counter('allocs')).toBeGreaterThanOrEqual(5);
    await vm.terminate();
    await expectBalanced();
  });

  it('survives many concurrent operations completed from foreign threads (no deadlock, no lost completion)', async () => {
    stub.setDelay(1);
    const vm = await running('vm-many');
    const luns = Array.from({ length: 48 }, (_, i) => i);
    await Promise.all(luns.map((lun) => vm.addScsiDisk(lun % 2, lun, { hostPath: `C:\\l\\${lun}.vhd`, readOnly: true })));
    expect(stub.calls().filter((c) => c.fn === 'HcsModifyComputeSystem')).toHaveLength(48);
    await vm.terminate();
    await expectBalanced();
  });

  it('maps a failing HRESULT to EHCS with its name, hex and Win32 code', async () => {
    const vm = await running('vm-hr');
    stub.fail('HcsModifyComputeSystem', 0x8037010e, false);
    const e1 = await rejection(vm.removeScsiDisk(0, 1));
    expect(e1.code).toBe('EHCS');
    expect(e1.context).toMatchObject({ name: 'HCS_E_SYSTEM_NOT_FOUND', hresult: '0x8037010E', operation: 'HcsModifyComputeSystem', vmId: 'vm-hr' });
    expect(e1.context).not.toHaveProperty('win32');

    // failure reported at completion, with HCS's ResultError document
    stub.fail('HcsModifyComputeSystem', 0x80070005, true, '{"Error":-2147024891,"ErrorMessage":"Accès refusé"}');
    const e2 = await rejection(vm.removeVpmemDevice(0));
    expect(e2.context).toMatchObject({
      name: 'HRESULT_FROM_WIN32(ERROR_ACCESS_DENIED)',
      hresult: '0x80070005',
      win32: 5,
      result: { Error: -2147024891, ErrorMessage: 'Accès refusé' },
      resourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/0',
    });

    // a failed grant stops the attach before HCS is asked to modify anything
    stub.fail('HcsGrantVmAccess', 0x8037011b, false);
    const before = stub.calls().length;
    const e3 = await rejection(vm.addScsiDisk(0, 2, { hostPath: LAYER, readOnly: true }));
    expect(e3.context).toMatchObject({ name: 'HCS_E_ACCESS_DENIED', hostPath: LAYER });
    expect(
      stub
        .calls()
        .slice(before)
        .map((c) => c.fn),
    ).toEqual(['HcsGrantVmAccess']);
    stub.clearFaults();
    await vm.terminate();
    await expectBalanced();
  });

  it('cancels an operation that outlives its timeout, and closes it only after HCS completes it', async () => {
    const vm = await running('vm-timeout', backend({ timeoutMs: 150 }));
    stub.hang('HcsModifyComputeSystem');
    const err = await rejection(vm.addScsiDisk(1, 0, { hostPath: LAYER, readOnly: true }));
    expect(err.code).toBe('ETIMEOUT');
    expect(err.context).toMatchObject({ operation: 'HcsModifyComputeSystem', timeoutMs: 150, cancelHresult: '0x00000000' });
    expect(stub.calls().map((c) => c.fn)).toContain('HcsCancelOperation');
    expect(stub.counter('cancels')).toBe(1);
    stub.clearFaults();
    await vm.terminate();
    await expectBalanced(); // the cancelled op was closed after its (E_ABORT) completion, never before
  });

  it('an unexpected exit marks the VM stopped and rejects pending and later calls with EVMSTOPPED', async () => {
    const vm = await running('vm-exit', backend({ timeoutMs: 60_000, cancelGraceMs: 100 }));
    stub.hang('HcsModifyComputeSystem');
    const pending = vm.addScsiDisk(0, 0, { hostPath: LAYER, readOnly: true });
    await vi.waitFor(() => expect(stub.calls().some((c) => c.fn === 'HcsModifyComputeSystem')).toBe(true));
    // koffi's callback bridge is unref'd: while the operation is outstanding a ref'd handle keeps Node alive
    expect(eventLoopHolders()).toBe(1);
    stub.fireExit();
    expect((await rejection(pending)).code).toBe('EVMSTOPPED');
    expect((await vm.waitExit()).reason).toBe('exited');
    // the operation HCS still held is cancelled, then closed once it completes
    await vi.waitFor(() => expect(stub.counter('cancels')).toBe(1));
    expect(vm.state).toBe('stopped');
    expect((await rejection(vm.removeScsiDisk(0, 0))).code).toBe('EVMSTOPPED');
    await vm.terminate(); // idempotent once stopped
    await vi.waitFor(() => expect(stub.counter('systemsClosed')).toBe(1));
    await expectBalanced();
  });

  it('fails createVm with a typed error and leaks nothing when HcsCreateComputeSystem fails', async () => {
    stub.fail('HcsCreateComputeSystem', 0x8037010f, true);
    const err = await rejection(backend().createVm(vmSpec('vm-dup')));
    expect(err.context).toMatchObject({ name: 'HCS_E_SYSTEM_ALREADY_EXISTS', vmId: 'vm-dup' });
    await expectBalanced();
  });

  it("mapped VPMEM in hcsshim's documents: the first file creates the device, others are Mappings at their offsets, the last removal takes the device", async () => {
    const vm = await running('vm-mapped');
    const other = 'C:\\layers\\second.vhd';
    expect(await vm.addVpmemMapping(2, 0, { hostPath: LAYER })).toEqual({ added: true });
    expect(await vm.addVpmemMapping(2, 8192, { hostPath: other })).toEqual({ added: true });
    expect((await rejection(vm.addVpmemMapping(2, 8192, { hostPath: other }))).code).toBe('EEXIST');
    await vm.removeVpmemMapping(2, 0);
    await vm.removeVpmemMapping(2, 8192);
    expect((await rejection(vm.removeVpmemMapping(2, 8192))).code).toBe('ENOTFOUND');
    const docs = stub
      .calls()
      .filter((c) => c.fn === 'HcsModifyComputeSystem')
      .map((c) => JSON.parse(c.args[1]!) as Record<string, unknown>);
    expect(docs).toEqual([
      { ResourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/2', RequestType: 'Add', Settings: { HostPath: LAYER, ReadOnly: true, ImageFormat: 'Vhd1' } },
      { ResourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/2/Mappings/8192', RequestType: 'Add', Settings: { HostPath: other, ImageFormat: 'Vhd1' } },
      { ResourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/2/Mappings/0', RequestType: 'Remove' },
      { ResourcePath: 'VirtualMachine/Devices/VirtualPMem/Devices/2', RequestType: 'Remove' },
    ]);
    await vm.terminate();
    await expectBalanced();
  });

  it('guest requests and exec go to an injected GuestConnection, made once the VM has started, given the RuntimeId', async () => {
    const conn = recordingGuest();
    const targets: GuestConnectionTarget[] = [];
    const b = backend({
      guestConnection: (t) => {
        targets.push(t);
        expect(stub.calls().map((c) => c.fn)).toContain('HcsStartComputeSystem');
        return conn;
      },
    });
    const vm = await b.createVm(vmSpec('vm-guest'));
    expect(targets).toEqual([]);
    await vm.start();
    expect(targets).toEqual([expect.objectContaining({ vmId: 'vm-guest', runtimeId: vm.runtimeId })]);
    // The request shapes and the unmount bookkeeping are GcsGuestOps' (test/backend/gcs); here: they reach the connection.
    await vm.mountVpmem({ slot: 4, guestPath: '/run/m/2' });
    await vm.unmount('/run/m/2');
    await vm.unplugScsi(1, 2);
    expect(conn.sent.map((r) => `${r.ResourceType}/${r.RequestType}`)).toEqual(['VPMemDevice/Add', 'VPMemDevice/Remove', 'SCSIDevice/Remove']);
    expect((await vm.exec(['/bin/true'])).stdout.toString()).toBe('ran');
    expect(conn.runs).toEqual([['/bin/true']]);
    expect(stub.calls().map((c) => c.fn)).not.toContain('HcsCreateProcess');
    await vm.terminate();
    await expectBalanced();
  });

  it('a RuntimeId HCS does not give fails createVm with EHCS and closes the system', async () => {
    stub.fail('HcsGetComputeSystemProperties', 0x8037010e, true);
    const err = await rejection(backend().createVm(vmSpec('vm-no-runtime-id')));
    expect(err.context).toMatchObject({ name: 'HCS_E_SYSTEM_NOT_FOUND', operation: 'HcsGetComputeSystemProperties' });
    await vi.waitFor(() => expect(stub.counter('systemsClosed')).toBe(1));
    await expectBalanced();
  });

  it("a VPMEM file HCS cannot take is a typed refusal ('too-large', 'unsuitable') before anything reaches HCS; a bad slot is EINVAL", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcs-vpmem-'));
    const big = path.join(dir, 'big.vhd');
    fs.writeFileSync(big, Buffer.alloc(8192));
    const vm = await backend().createVm({ ...vmSpec('vm-big'), vpmem: { count: 2, maxSizeBytes: 4096 } });
    await vm.start();
    const before = stub.calls().length;
    expect(await vm.addVpmemDevice(0, { hostPath: big })).toMatchObject({ added: false, refused: 'too-large', detail: expect.stringContaining(big) });
    expect(await vm.addVpmemDevice(0, { hostPath: 'C:\\l\\layer.img' })).toMatchObject({ added: false, refused: 'unsuitable' });
    expect((await rejection(vm.addVpmemDevice(2, { hostPath: LAYER }))).code).toBe('EINVAL'); // past the VM's 2 devices
    expect(stub.calls().length).toBe(before);
    await vm.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
    await expectBalanced();
  });

  it('refuses host operations before start and a second start', async () => {
    const vm = await backend().createVm(vmSpec('vm-order'));
    expect(isLcowError(await rejection(vm.addScsiDisk(0, 0, { hostPath: LAYER, readOnly: true })), 'EINVAL')).toBe(true);
    await vm.start();
    expect((await rejection(vm.start())).code).toBe('EINVAL');
    await vm.terminate();
    await expectBalanced();
  });

  it('terminating a VM that never started closes its handle without waiting for an exit event', async () => {
    const vm = await backend().createVm(vmSpec('vm-idle'));
    await vm.terminate();
    expect(await vm.waitExit()).toEqual({ reason: 'terminated', detail: 'never started' });
    expect(vm.state).toBe('stopped');
    await vi.waitFor(() => expect(stub.counter('systemsClosed')).toBe(1));
    expect(stub.calls().map((c) => c.fn)).not.toContain('HcsTerminateComputeSystem');
    await expectBalanced();
  });
});

describe('bindings', () => {
  it('any Unicode string crosses to the library and back intact as UTF-16 (property)', async () => {
    stub.setDelay(0);
    const native = loadNativeHcs(stub.libraries);
    const runner = new OperationRunner(native, { logger: defaultLogger() });
    const noNulOrLoneSurrogate = (t: string): boolean => !t.includes('\0') && !/[\uD800-\uDFFF]/u.test(t);
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).filter(noNulOrLoneSurrogate), async (id) => {
        const sys: [bigint | null] = [null];
        await runner.run('HcsCreateComputeSystem', (op) => callAsync(native.cc.HcsCreateComputeSystem, id, '{}', op, null, sys), { timeoutMs: 10_000 });
        const calls = stub.calls();
        expect(calls[calls.length - 1]!.args[0]).toBe(id); // JS → UTF-16 → library
        const r = await runner.run('HcsGetComputeSystemProperties', (op) => callAsync(native.cc.HcsGetComputeSystemProperties, sys[0]!, op, null), {
          timeoutMs: 10_000,
        });
        expect(r.document?.startsWith(`{"Id":"${id}","RuntimeId":"`)).toBe(true); // library → UTF-16 → JS (the stub does not escape)
        await callAsync(native.cc.HcsCloseComputeSystem, sys[0]!);
      }),
      { numRuns: 60 },
    );
    await expectBalanced();
  });

  it('binds optional exports lazily: absent in the library → undefined, not a throw at load', () => {
    const cc = loadComputeCore(stub.libraries.computecore);
    expect(cc.HcsWaitForComputeSystemExit).toBeUndefined();
    expect(typeof cc.HcsCreateOperation).toBe('function');
  });

  it('createVhdxViaVirtdisk passes v2 parameters (size, block size, access NONE) and the UTF-16 path', async () => {
    await createVhdxViaVirtdisk('C:\\sandboxes\\données.vhdx', 20, 1, stub.libraries);
    const call = stub.calls().find((c) => c.fn === 'CreateVirtualDisk')!;
    expect(call.args[0]).toBe('C:\\sandboxes\\données.vhdx');
    expect(call.args[1]).toBe(`device=0 mask=0 flags=0 version=2 max=${20 * 2 ** 30} block=${2 ** 20} sector=0 parent=null`);
  });
});
