// 1,000 random sequences of attach / mount / layer / release, some run
// concurrently, some with injected backend failures: whatever happens, the
// VM's real state matches the handles still held, and once every handle is
// released (retrying failed releases) no slot, mount or path is left.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FakeOp } from '../../src/backend/fake/index.js';
import { isLcowError } from '../../src/errors.js';
import type { UtilityVM } from '../../src/uvm/index.js';
import { fakeUvm } from './fake-uvm.js';

type Handle = { released: boolean; release(): Promise<void> };

const failable: FakeOp[] = ['addScsiDisk', 'mountScsi', 'unmount', 'unplugScsi', 'removeScsiDisk', 'addVpmemDevice', 'mountVpmem', 'removeVpmemDevice'];

const step = fc.oneof(
  fc.record({ kind: fc.constant('scsi' as const), path: fc.integer({ min: 0, max: 4 }), ro: fc.boolean(), mount: fc.constantFrom('none', 'plain', 'noload') }),
  fc.record({ kind: fc.constant('layer' as const), path: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('fail' as const), op: fc.constantFrom(...failable) }),
);
// Each group runs concurrently; groups run one after another.
const program = fc.array(fc.array(step, { minLength: 1, maxLength: 3 }), { maxLength: 12 });

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

async function run(uvm: UtilityVM, s: Step, held: Handle[], inject: (op: FakeOp) => void): Promise<void> {
  const tolerate = (e: unknown) => {
    if (!isLcowError(e, 'EGUEST', 'ENOSLOT', 'EALREADYRELEASED')) throw e;
  };
  switch (s.kind) {
    case 'scsi': {
      const mount = s.mount === 'none' ? false : s.mount === 'plain' ? {} : { options: ['noload'] };
      await uvm.scsi.add(`/host/d${s.path}.vhd`, { readOnly: s.ro, mount }).then((h) => void held.push(h), tolerate);
      return;
    }
    case 'layer':
      await uvm.addLayer(`/host/l${s.path}.vhd`).then((h) => void held.push(h), tolerate);
      return;
    case 'release': {
      const live = held.filter((h) => !h.released);
      if (live.length) await live[s.pick % live.length]!.release().catch(tolerate);
      return;
    }
    case 'fail':
      inject(s.op);
  }
}

describe('ref counts under random sequences (fake backend)', () => {
  it('1,000 random attach/release programs end with every slot free and no guest mount left', async () => {
    await fc.assert(
      fc.asyncProperty(program, async (groups) => {
        const { uvm, vm, backend } = await fakeUvm({ vpmem: { count: 2, maxSizeBytes: 1 << 20 } });
        for (let i = 0; i < 4; i++) backend.disks.define(`/host/l${i}.vhd`, { sizeBytes: 64 << 10 });
        backend.disks.define('/host/l4.vhd', { sizeBytes: 2 << 20 }); // too large for VPMEM: always SCSI
        const held: Handle[] = [];
        for (const group of groups) {
          await Promise.all(group.map((s) => run(uvm, s, held, (op) => vm.faults.failNext(op))));
          // The VM's real state never has more than the handles still held (plus adopted failed rollbacks).
          const live = held.filter((h) => !h.released).length;
          expect(vm.scsi.size + vm.vpmem.size).toBeLessThanOrEqual(live + uvm.orphans.size);
          expect(uvm.scsi.inUse().length).toBe(vm.scsi.size);
          expect(uvm.vpmem.inUse().length).toBe(vm.vpmem.size);
        }
        vm.faults.clear();
        for (const h of held) if (!h.released) await h.release();
        await uvm.releaseOrphans(); // adds whose rollback hit an injected failure
        expect(uvm.scsi.inUse()).toEqual([]);
        expect(uvm.vpmem.inUse()).toEqual([]);
        expect(uvm.scsi.mountCount).toBe(0);
        expect(vm.scsi.size).toBe(0);
        expect(vm.vpmem.size).toBe(0);
        expect([...vm.guest.mounts.keys()]).toEqual([]);
        expect(uvm.mountPointsInUse()).toEqual([]);
        expect(vm.violations).toEqual([]);
      }),
      { numRuns: 1000, seed: 20261123 },
    );
  });
});
