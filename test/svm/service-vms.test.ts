import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GLOBAL_SVM_ID, ServiceVms, type ServiceVmLease } from '../../src/svm/index.js';
import { FakeLifecycle, gate, turns, type FakeVm } from './fake-lifecycle.js';

const safe = (lc: FakeLifecycle, maxParallelStarts = 2) => new ServiceVms<FakeVm>({ mode: 'safe', lifecycle: lc, maxParallelStarts });

describe('ServiceVms, safe mode', () => {
  it('one VM per layer, shared by concurrent users, stopped at the last release', async () => {
    const lc = new FakeLifecycle();
    const svms = safe(lc);
    const [a, b, c] = await Promise.all([svms.acquire('L1'), svms.acquire('L1'), svms.acquire('L2')]);
    expect(a.vm).toBe(b.vm);
    expect(c.vm).not.toBe(a.vm);
    expect(lc.starts).toBe(2);
    await a.release();
    expect(lc.stops).toBe(0);
    await b.release();
    expect(lc.stops).toBe(1);
    expect(svms.ids()).toEqual(['L2']);
    await c.release();
    expect(svms.ids()).toEqual([]);
    expect(lc.stops).toBe(2);
  });

  it('an acquire while the VM is terminating waits for the stop, then starts a fresh VM', async () => {
    const lc = new FakeLifecycle();
    const svms = safe(lc);
    const first = await svms.acquire('L');
    lc.stopGate = gate();
    const releasing = first.release();
    await turns(3);
    expect(svms.map.peek('L')?.terminating).toBe(true);
    let second: ServiceVmLease<FakeVm> | undefined;
    const acquiring = svms.acquire('L').then((l) => (second = l));
    await turns(5);
    expect(second).toBeUndefined();
    expect(lc.starts).toBe(1);
    lc.stopGate.open();
    await releasing;
    await acquiring;
    expect(lc.starts).toBe(2);
    expect(second!.vm).not.toBe(first.vm);
    expect(first.vm.stopped).toBe(true);
    await second!.release();
    expect(lc.violations).toEqual([]);
  });

  it('a failed start is the same error for every waiter, and the entry is cleaned', async () => {
    const lc = new FakeLifecycle();
    const svms = safe(lc);
    const boom = new Error('boot failed');
    lc.startGate = gate();
    lc.failStart = () => boom;
    const waiters = Array.from({ length: 5 }, () => svms.acquire('L'));
    await turns(3);
    expect(svms.map.peek('L')?.refCount).toBe(5);
    lc.startGate.open();
    const results = await Promise.allSettled(waiters);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBe(boom);
    }
    expect(lc.starts).toBe(1);
    expect(svms.ids()).toEqual([]);
    expect(lc.stops).toBe(0); // nothing started, nothing to stop
    // the next user gets a fresh try
    lc.startGate = undefined;
    lc.failStart = () => undefined;
    const ok = await svms.acquire('L');
    await ok.release();
    expect(svms.ids()).toEqual([]);
  });

  it('forceStop ends the VM under its users; their late releases are no-ops, even against a newer VM', async () => {
    const lc = new FakeLifecycle();
    const svms = safe(lc);
    const a = await svms.acquire('L');
    await svms.forceStop('L');
    expect(a.vm.stopped).toBe(true);
    const b = await svms.acquire('L');
    await a.release(); // stale generation: must not take b's reference
    expect(svms.map.peek('L')?.refCount).toBe(1);
    await expect(a.release()).rejects.toMatchObject({ code: 'EALREADYRELEASED' });
    await b.release();
    await svms.forceStop('unknown');
    expect(svms.ids()).toEqual([]);
  });

  it('a stop error reaches the releaser and whoever waited for that stop', async () => {
    const lc = new FakeLifecycle();
    const svms = safe(lc);
    const lease = await svms.acquire('L');
    const stopErr = new Error('terminate failed');
    const realStop = lc.stop.bind(lc);
    const stopGate = gate();
    lc.stop = async () => {
      await stopGate.promise;
      throw stopErr;
    };
    const releasing = lease.release();
    await turns(2);
    const waiter = svms.acquire('L'); // entry is terminating: waits for the stop signal
    stopGate.open();
    await expect(releasing).rejects.toBe(stopErr);
    await expect(waiter).rejects.toMatchObject({ code: 'EVMTERMINATING', cause: stopErr });
    expect(svms.ids()).toEqual([]);
    lc.stop = realStop;
    const fresh = await svms.acquire('L');
    await fresh.release();
    expect(lc.starts).toBe(2);
  });

  it('bounds parallel starts', async () => {
    const lc = new FakeLifecycle();
    lc.delay = () => 5;
    const svms = safe(lc, 2);
    const leases = await Promise.all(Array.from({ length: 8 }, (_, i) => svms.acquire(`L${i}`)));
    expect(lc.maxBooting).toBe(2);
    await Promise.all(leases.map((l) => l.release()));
  });

  it('10,000 random concurrent operations end with every count at 0 and no entry left', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            op: fc.constantFrom('acquire', 'acquire', 'acquire', 'release', 'release', 'force'),
            layer: fc.integer({ min: 0, max: 7 }),
            pick: fc.nat(),
            wait: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 10_000, maxLength: 10_000 },
        ),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (ops, seed) => {
          const lc = new FakeLifecycle();
          let rnd = seed;
          const next = () => (rnd = (rnd * 1103515245 + 12345) & 0x7fffffff);
          lc.delay = () => next() % 3;
          lc.failStart = () => (next() % 10 === 0 ? new Error('flaky boot') : undefined);
          const svms = safe(lc, 3);
          const held: Array<ServiceVmLease<FakeVm>> = [];
          const running: Array<Promise<unknown>> = [];
          const unexpected: unknown[] = [];
          const expectOnly =
            (...codes: string[]) =>
            (e: unknown) => {
              const c = (e as { code?: string }).code;
              if (!(e instanceof Error && (e.message === 'flaky boot' || (c && codes.includes(c))))) unexpected.push(e);
            };
          for (const o of ops) {
            const layer = `L${o.layer}`;
            if (o.op === 'acquire') {
              running.push(svms.acquire(layer).then((l) => void held.push(l), expectOnly('EVMTERMINATING')));
            } else if (o.op === 'release' && held.length > 0) {
              const [l] = held.splice(o.pick % held.length, 1);
              running.push(l!.release().catch(expectOnly()));
            } else if (o.op === 'force') {
              running.push(svms.forceStop(layer).catch(expectOnly()));
            }
            if (o.wait) await turns(o.wait);
          }
          await Promise.all(running);
          await Promise.all(held.map((l) => l.release()));
          expect(unexpected).toEqual([]);
          expect(lc.violations).toEqual([]);
          expect(svms.ids()).toEqual([]);
          expect(lc.alive.size).toBe(0);
          expect(lc.maxBooting).toBeLessThanOrEqual(3);
        },
      ),
      { numRuns: 2 },
    );
  });
});

describe('ServiceVms, global mode', () => {
  it('one VM for every layer, kept after the last release until stopAll', async () => {
    const lc = new FakeLifecycle();
    const svms = new ServiceVms<FakeVm>({ mode: 'global', lifecycle: lc });
    const leases = await Promise.all(['a', 'b', 'c', 'a'].map((id) => svms.acquire(id)));
    expect(new Set(leases.map((l) => l.vm)).size).toBe(1);
    expect(leases[0]!.vmId).toBe(GLOBAL_SVM_ID);
    await Promise.all(leases.map((l) => l.release()));
    await svms.forceStop('a'); // Remove in global mode leaves the shared VM alone
    expect(lc.stops).toBe(0);
    expect(svms.ids()).toEqual([GLOBAL_SVM_ID]);
    const again = await svms.acquire('d');
    expect(again.vm).toBe(leases[0]!.vm);
    await again.release();
    await svms.stopAll();
    expect(lc.starts).toBe(1);
    expect(lc.stops).toBe(1);
    expect(svms.ids()).toEqual([]);
  });
});
