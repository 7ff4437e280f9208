import { describe, expect, it } from 'vitest';
import {
  QEMU_LIMITS,
  buildQemuArgs,
  kernelCommandLine,
  memoryArg,
  scsiControllerAddresses,
  vpmemDeviceBus,
  vpmemSlotLocation,
} from '../../../src/backend/qemu/qemu-args.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { isLcowError } from '../../../src/errors.js';
import { testVmSpec } from '../../helpers/vm-spec.js';

const spec = (over: Partial<VmSpec> = {}): VmSpec => testVmSpec({ cpus: 2, scsiControllers: 2, vpmem: { count: 10, maxSizeBytes: 64 << 20 }, ...over });

const build = (s: VmSpec) =>
  buildQemuArgs({ spec: s, kernelPath: '/k', initrdPath: '/i', qmpSocket: '/r/qmp.sock', agentSocket: '/r/agent.sock', accel: 'tcg' });

function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('qemu argv', () => {
  it('maps memory, CPUs, boot files and the fixed machine options', () => {
    const args = build(spec());
    expect(values(args, '-accel')).toEqual(['tcg']);
    expect(values(args, '-M')).toEqual(['q35']);
    expect(values(args, '-m')).toEqual(['512M,slots=10,maxmem=1152M']);
    expect(values(args, '-smp')).toEqual(['2']);
    expect(values(args, '-kernel')).toEqual(['/k']);
    expect(values(args, '-initrd')).toEqual(['/i']);
    expect(values(args, '-serial')).toEqual(['none']);
    for (const f of ['-nodefaults', '-no-user-config', '-no-reboot', '-nographic']) expect(args).toContain(f);
  });

  it('puts one virtio-scsi controller per SCSI controller at fixed PCI slots', () => {
    const devs = values(build(spec({ scsiControllers: 4 })), '-device').filter((d) => d.startsWith('virtio-scsi-pci'));
    expect(devs).toEqual([4, 5, 6, 7].map((slot, c) => `virtio-scsi-pci,id=scsi${c},bus=pcie.0,addr=0x${slot.toString(16)}`));
  });

  it('puts VPMEM slots behind ACPI hot-plug PCI bridges, 31 slots per bridge', () => {
    const args = build(spec({ vpmem: { count: 40, maxSizeBytes: 64 << 20 } }));
    const bridges = values(args, '-device').filter((d) => d.startsWith('pci-bridge'));
    expect(bridges).toEqual(
      [0, 1].map(
        (b) => `pci-bridge,id=pmem-br${b},bus=pcie.0,addr=0x${(8 + b).toString(16)},chassis_nr=${b + 1},shpc=off,io-reserve=0,mem-reserve=2M,pref64-reserve=2M`,
      ),
    );
    expect(values(args, '-global')).toEqual(['ICH9-LPC.acpi-pci-hotplug-with-bridge-support=on']);
    expect(values(args, '-device').some((d) => d.startsWith('pcie-root-port'))).toBe(false);
    expect(vpmemSlotLocation(0)).toEqual({ bridge: 0, bridgeDevice: 0x08, device: 1 });
    expect(vpmemSlotLocation(30)).toEqual({ bridge: 0, bridgeDevice: 0x08, device: 31 });
    expect(vpmemSlotLocation(31)).toEqual({ bridge: 1, bridgeDevice: 0x09, device: 1 });
    expect(vpmemSlotLocation(127)).toEqual({ bridge: 4, bridgeDevice: 0x0c, device: 4 });
    expect(vpmemDeviceBus(33)).toEqual({ bus: 'pmem-br1', addr: '0x3' });
  });

  it('takes its declared limits: 4 controllers, 128 VPMEM devices of 4 GiB', () => {
    const max = spec({ scsiControllers: QEMU_LIMITS.scsiControllers, vpmem: { count: QEMU_LIMITS.vpmemDevices, maxSizeBytes: QEMU_LIMITS.vpmemMaxSizeBytes } });
    expect(values(build(max), '-m')).toEqual([`512M,slots=128,maxmem=${512 + 128 * 4096}M`]);
  });

  it('has no memory slots without VPMEM', () => {
    expect(memoryArg(spec({ vpmem: { count: 0, maxSizeBytes: 0 } }))).toBe('512M');
    const none = build(spec({ vpmem: { count: 0, maxSizeBytes: 0 } }));
    expect(values(none, '-device').some((d) => d.startsWith('pci-bridge'))).toBe(false);
    expect(values(none, '-global')).toEqual([]);
  });

  it('connects QMP and the agent port over the given sockets', () => {
    const args = build(spec());
    expect(values(args, '-chardev')).toEqual(['socket,id=qmp,path=/r/qmp.sock,server=on,wait=off', 'socket,id=qga,path=/r/agent.sock,server=on,wait=off']);
    expect(values(args, '-device')).toContain('virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0');
  });

  it('gcs mode: the bridge port waits for its client (wait=on); vsock only when asked; the vmbus shim table', () => {
    const plain = build(spec());
    expect(plain.join(' ')).not.toMatch(/gcs|vsock/);
    const gcs = buildQemuArgs({
      spec: spec(),
      kernelPath: '/k',
      initrdPath: '/i',
      qmpSocket: '/r/qmp.sock',
      agentSocket: '/r/agent.sock',
      accel: 'tcg',
      gcsSocket: '/r/gcs.sock',
      vsockCid: 1234,
    });
    expect(values(gcs, '-chardev')).toContain('socket,id=gcs,path=/r/gcs.sock,server=on,wait=on');
    expect(values(gcs, '-device')).toEqual(
      expect.arrayContaining(['virtserialport,bus=vser0.0,chardev=gcs,name=gcs.bridge', 'vhost-vsock-pci,id=vsock0,guest-cid=1234,bus=pcie.0,addr=0x3']),
    );
    expect(scsiControllerAddresses()).toEqual([
      { guid: 'df6d0690-79e5-55b6-a5ec-c1e2f77f580a', pci: '0000:00:04.0' },
      { guid: '0110f83b-de10-5172-a266-78bca56bf50a', pci: '0000:00:05.0' },
      { guid: 'b5d2d8d4-3a75-51bf-945b-3444dc6b8579', pci: '0000:00:06.0' },
      { guid: '305891a9-b251-5dfe-91a2-c25d9212275b', pci: '0000:00:07.0' },
    ]);
  });

  it('appends the caller kernel arguments after its own', () => {
    expect(kernelCommandLine(spec({ kernelArgs: 'foo=1' }), false)).toMatch(/panic=-1.* foo=1$/);
    expect(kernelCommandLine(spec(), true)).toMatch(/^console=ttyS0 /);
  });

  it.each([
    [{ scsiControllers: 5 }],
    [{ scsiControllers: 0 }],
    [{ vpmem: { count: 129, maxSizeBytes: 4096 } }],
    [{ vpmem: { count: 1, maxSizeBytes: 4097 } }],
    [{ vpmem: { count: 1, maxSizeBytes: 4 * 1024 ** 3 + 4096 } }], // past QEMU_LIMITS.vpmemMaxSizeBytes
    [{ id: 'bad id,x' }],
    [{ memoryMiB: 1.5 }],
  ] as Array<[Partial<VmSpec>]>)('rejects an invalid spec %j with EINVAL', (over) => {
    expect(() => build(spec(over))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });

  it('rejects a rootfs-image boot with EUNSUPPORTED', () => {
    try {
      build(spec({ boot: { kind: 'rootfs-image', kernelPath: '/k', imagePath: '/x.vhd' } }));
      expect.unreachable();
    } catch (e) {
      expect(isLcowError(e, 'EUNSUPPORTED')).toBe(true);
    }
  });
});

describe('qemu option escaping', () => {
  it('doubles commas in socket paths so they cannot add options', () => {
    const args = buildQemuArgs({ spec: spec(), kernelPath: '/k', initrdPath: '/i', qmpSocket: '/r,x/qmp.sock', agentSocket: '/r/a.sock', accel: 'tcg' });
    expect(values(args, '-chardev')[0]).toBe('socket,id=qmp,path=/r,,x/qmp.sock,server=on,wait=off');
  });
});
