import { describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { createUtilityVM, mountContainerLayers } from '../../src/uvm/index.js';
import { fakeUvm, errorCode as code } from './fake-uvm.js';

describe('UtilityVM lifecycle', () => {
  it('created → running → stopped; start once; terminate is idempotent; waitExit reports why', async () => {
    const backend = new FakeBackend();
    const uvm = await createUtilityVM({ id: 'life', backend });
    expect(uvm.state).toBe('created');
    expect(await code(uvm.exec(['true']))).toBe('EINVAL'); // not started
    expect(await code(uvm.scsi.add('/a', { readOnly: true }))).toBe('EINVAL');
    await uvm.start();
    expect(uvm.state).toBe('running');
    expect(await code(uvm.start())).toBe('EINVAL');
    await uvm.terminate();
    await uvm.terminate();
    expect(uvm.state).toBe('stopped');
    expect(await uvm.waitExit()).toEqual({ reason: 'terminated' });
    expect(await code(uvm.exec(['true']))).toBe('EVMSTOPPED');
  });

  it('a failed start terminates the VM and reports stopped', async () => {
    const backend = new FakeBackend();
    const uvm = await createUtilityVM({ id: 'bad', backend });
    backend.vm('bad').faults.failNext('start', 'EVMSTART');
    expect(await code(uvm.start())).toBe('EVMSTART');
    expect(uvm.state).toBe('stopped');
    expect(backend.vm('bad').state).toBe('stopped');
  });

  it('exec takes an argv array and returns any exit code', async () => {
    const { uvm } = await fakeUvm();
    const r = await uvm.exec(['echo', 'a b', ';', 'rm -rf /']);
    expect([r.exitCode, r.stdout.toString()]).toEqual([0, 'a b ; rm -rf /\n']);
    expect((await uvm.exec(['false'])).exitCode).toBe(1);
    expect(await code(uvm.exec([]))).toBe('EINVAL');
    expect(await code(uvm.exec('echo hi' as unknown as string[]))).toBe('EINVAL');
  });

  it('when the VM dies: pending calls and new adds fail fast with EVMSTOPPED, releases succeed, state is stopped', async () => {
    const { uvm, vm, backend } = await fakeUvm();
    backend.disks.define('/l');
    const held = await uvm.scsi.add('/d', { readOnly: false, mount: {} });
    const c = await mountContainerLayers(uvm, ['/l'], '/s', '/run/c/x');
    const gate = vm.faults.hold('mountScsi');
    const pending = uvm.scsi.add('/e', { readOnly: true, mount: {} });
    await gate.reached;
    vm.kill('qemu crashed');
    expect(await code(pending)).toBe('EVMSTOPPED');
    expect(uvm.state).toBe('stopped');
    expect(await uvm.waitExit()).toEqual({ reason: 'killed', detail: 'qemu crashed' });
    expect(await code(uvm.scsi.add('/f', { readOnly: true }))).toBe('EVMSTOPPED');
    expect(await code(uvm.addLayer('/l'))).toBe('EVMSTOPPED');
    expect(await code(mountContainerLayers(uvm, ['/l'], '/s2', '/run/c/y'))).toBe('EVMSTOPPED');
    const before = vm.calls.length;
    await held.release();
    await c.release();
    expect(vm.calls.length).toBe(before); // nothing left to undo in a dead VM
    expect(uvm.scsi.inUse()).toEqual([]);
    expect(uvm.vpmem.inUse()).toEqual([]);
  });

  it('a guest that exits on its own stops the UVM too', async () => {
    const { uvm, vm } = await fakeUvm();
    vm.exitFromGuest('panic');
    expect((await uvm.waitExit()).reason).toBe('exited');
    expect(uvm.state).toBe('stopped');
    expect(await code(uvm.exec(['true']))).toBe('EVMSTOPPED');
  });
});
