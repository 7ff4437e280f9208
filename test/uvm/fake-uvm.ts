// A started UtilityVM on the fake backend, and the fake VM under it.
import { FakeBackend, type FakeVm } from '../../src/backend/fake/index.js';
import { isLcowError } from '../../src/errors.js';
import { createUtilityVM, type UtilityVM, type UtilityVMOptions } from '../../src/uvm/index.js';

export interface FakeUvm {
  backend: FakeBackend;
  uvm: UtilityVM;
  vm: FakeVm;
}

let seq = 0;

export async function fakeUvm(options: Partial<UtilityVMOptions> = {}, backend = new FakeBackend()): Promise<FakeUvm> {
  const uvm = await createUtilityVM({ id: `fake-${++seq}`, backend, hostFiles: backend.hostFiles, ...options });
  await uvm.start();
  return { backend, uvm, vm: backend.vm(uvm.id) };
}

/** The LcowError code a promise rejects with, 'resolved', or the message of anything else. */
export function errorCode(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isLcowError(e) ? e.code : String(e)),
  );
}
