/**
 * The ModifySettings requests, field for field and in key order, against
 * golden JSON in hcsshim's guest shapes (the shapes the real GCS v0.12.0-rc.3
 * accepted: see gcs-bridge-facts.md §1.4 and the real-VM tests), and the
 * mount bookkeeping that turns an unmount into the right Remove.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  GcsGuestOps,
  combineLayersRequest,
  mountScsiRequest,
  mountVpmemRequest,
  removeCombinedLayersRequest,
  unmountVpmemRequest,
  unplugScsiRequest,
  type GuestModifyRequest,
} from '../../../src/backend/gcs/index.js';

const g = JSON.parse(fs.readFileSync(new URL('./golden/guest-requests.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function expectGolden(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

describe('GCS guest requests', () => {
  it('MappedVirtualDisk, VPMemDevice (whole and mapped), SCSIDevice unplug', () => {
    expectGolden(mountScsiRequest({ controller: 0, lun: 1, guestPath: '/run/mounts/m1', readOnly: false }), g.mountScsi);
    expectGolden(
      mountScsiRequest({ controller: 2, lun: 5, guestPath: '/run/m/42', readOnly: true, options: ['noload'], fsType: 'ext4' }),
      g.mountScsiReadOnlyWithOptions,
    );
    expectGolden(mountVpmemRequest({ slot: 1, guestPath: '/run/layers/p1' }), g.mountVpmem);
    expectGolden(unmountVpmemRequest({ slot: 1, guestPath: '/run/layers/p1' }), g.unmountVpmem);
    const mapping = { offsetBytes: 8 << 20, sizeBytes: 4198400 };
    expectGolden(mountVpmemRequest({ slot: 3, guestPath: '/run/m/7', mapping }), g.mountVpmemMapped);
    expectGolden(unmountVpmemRequest({ slot: 3, guestPath: '/run/m/7', mapping }), g.unmountVpmemMapped);
    expectGolden(unplugScsiRequest(0, 1), g.unplugScsi);
  });

  it('CombinedLayers with a scratch, read-only, and its removal', () => {
    expectGolden(
      combineLayersRequest({
        lowerDirs: ['/run/m/2', '/run/m/1'],
        upperDir: '/run/gcs/c/abc/scratch/upper',
        workDir: '/run/gcs/c/abc/scratch/work',
        target: '/run/gcs/c/abc/rootfs',
      }),
      g.combineLayers,
    );
    expectGolden(combineLayersRequest({ lowerDirs: ['/run/m/1'], target: '/run/u/1' }), g.combineLayersReadOnly);
    expectGolden(removeCombinedLayersRequest('/run/gcs/c/abc/rootfs'), g.removeCombinedLayers);
  });

  it('rejects what the GCS cannot express: odd upper/work, relative paths, unaligned mappings, slots past the LCOW hardware', () => {
    expect(() => combineLayersRequest({ lowerDirs: ['/a'], upperDir: '/s/up', workDir: '/s/work', target: '/t' })).toThrow(/upper/);
    expect(() => mountVpmemRequest({ slot: 0, guestPath: 'run/x' })).toThrow(/absolute/);
    expect(() => mountVpmemRequest({ slot: 0, guestPath: '/x', mapping: { offsetBytes: 100, sizeBytes: 4096 } })).toThrow(/page-aligned/);
    expect(() => mountVpmemRequest({ slot: 128, guestPath: '/x' })).toThrow(/slot/);
    expect(() => unplugScsiRequest(4, 0)).toThrow(/controller/);
  });
});

describe('GcsGuestOps', () => {
  it('unmount sends the Remove of whatever was mounted at the path; an unknown path is ENOTFOUND', async () => {
    const sent: GuestModifyRequest[] = [];
    const ops = new GcsGuestOps('vm', async (r) => void sent.push(r));
    await ops.mountScsi({ controller: 1, lun: 2, guestPath: '/run/m/1', readOnly: true, options: ['noload'] });
    await ops.mountVpmem({ slot: 4, guestPath: '/run/m/2', mapping: { offsetBytes: 0, sizeBytes: 8192 } });
    await ops.combineLayers({ lowerDirs: ['/run/m/2', '/run/m/1'], target: '/run/u/1' });
    await ops.removeCombinedLayers('/run/u/1');
    await ops.unmount('/run/m/1');
    await ops.unmount('/run/m/2');
    await ops.unplugScsi(1, 2);
    await expect(ops.unmount('/run/m/1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(sent.map((r) => `${r.ResourceType}/${r.RequestType}`)).toEqual([
      'MappedVirtualDisk/Add',
      'VPMemDevice/Add',
      'CombinedLayers/Add',
      'CombinedLayers/Remove',
      'MappedVirtualDisk/Remove',
      'VPMemDevice/Remove',
      'SCSIDevice/Remove',
    ]);
    expect(sent[4]!.Settings).toEqual({ MountPath: '/run/m/1', Controller: 1, Lun: 2, ReadOnly: true, Options: ['noload'] });
    expect(sent[5]!.Settings).toEqual({ DeviceNumber: 4, MountPath: '/run/m/2', MappingInfo: { DeviceOffsetInBytes: 0, DeviceSizeInBytes: 8192 } });
  });

  it('a failed mount is not remembered; a failed unmount stays mounted (and can be retried)', async () => {
    let fail = true;
    const ops = new GcsGuestOps('vm', async () => {
      if (fail) throw new Error('guest said no');
    });
    await expect(ops.mountVpmem({ slot: 0, guestPath: '/run/m/1' })).rejects.toThrow('guest said no');
    await expect(ops.unmount('/run/m/1')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    fail = false;
    await ops.mountVpmem({ slot: 0, guestPath: '/run/m/1' });
    fail = true;
    await expect(ops.unmount('/run/m/1')).rejects.toThrow('guest said no');
    fail = false;
    await ops.unmount('/run/m/1');
  });
});
