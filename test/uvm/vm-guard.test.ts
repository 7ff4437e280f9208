// The guard alone: a backend call that never answers still ends when the VM
// stops (EVMSTOPPED for work, success for undo), so a broken backend cannot
// hang the managers.
import { describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { VmGuard } from '../../src/uvm/vm-guard.js';
import { errorCode } from './fake-uvm.js';

const never = () => new Promise<void>(() => undefined);

describe('VmGuard', () => {
  it('a hung call rejects EVMSTOPPED when the VM stops; later calls fail at once', async () => {
    const guard = new VmGuard('g');
    const hung = errorCode(guard.do('mountScsi', never));
    guard.stop();
    expect(await hung).toBe('EVMSTOPPED');
    let called = false;
    expect(await errorCode(guard.do('exec', async () => void (called = true)))).toBe('EVMSTOPPED');
    expect(called).toBe(false);
  });

  it('undo: a hung call resolves when the VM stops; EVMSTOPPED counts as done; other errors propagate', async () => {
    const guard = new VmGuard('g');
    expect(await errorCode(guard.undo('unmount', async () => Promise.reject(new LcowError('EBUSY', 'busy'))))).toBe('EBUSY');
    expect(await errorCode(guard.undo('unmount', async () => Promise.reject(new LcowError('EVMSTOPPED', 'gone'))))).toBe('resolved');
    expect(guard.stopped).toBe(true);
    const g2 = new VmGuard('g2');
    const hung = errorCode(g2.undo('unmount', never));
    g2.stop();
    expect(await hung).toBe('resolved');
  });
});
