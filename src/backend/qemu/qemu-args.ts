/**
 * VmSpec → qemu-system-x86_64 argv. Pure, so the mapping is unit-tested.
 *
 * PCI layout on the q35 root bus is fixed so that the guest can find a
 * device by where it sits rather than by probe order:
 *   00:02.0        virtio-serial (the agent's port; in gcs mode the GCS bridge's too)
 *   00:03.0        vhost-vsock (gcs mode, where the host has /dev/vhost-vsock)
 *   00:04.0+c      virtio-scsi controller c (id scsi<c>), c = 0..3
 *   00:08.0 …      pci-bridge b (id pmem-br<b>) holding VPMEM slots 31b … 31b+30,
 *                  slot s at device 1 + s%31 behind bridge s/31; 5 bridges hold 128.
 *
 * VPMEM slots sit behind conventional PCI bridges with ACPI hot-plug rather
 * than one PCIe root port each: every root port is a device the firmware and
 * the kernel probe at boot (64 of them cost ~4 s of a TCG boot), a bridge
 * holds 31 hot-plug slots. An empty bridge gets no memory windows, so each
 * reserves some (mem-reserve, pref64-reserve) for the virtio-pmem BARs
 * (4 KiB + 16 KiB each) hot-added later.
 */
import { LcowError } from '../../errors.js';
import { LCOW_LIMITS, VPMEM_SIZE_ALIGNMENT, type BackendLimits } from '../contract.js';
import { SCSI_CONTROLLER_GUIDS } from '../gcs/index.js';
import type { VmSpec } from '../types.js';

export const AGENT_PORT_NAME = 'org.qemu.guest_agent.0';
/** The virtio-serial port the gcs variant's init runs the GCS on (image/gcs-init.sh). */
export const GCS_PORT_NAME = 'gcs.bridge';
export const SCSI_PCI_SLOT_BASE = 0x04;
export const VPMEM_PCI_SLOT_BASE = 0x08;

/**
 * The LCOW counts fit the PCI layout above (controllers at 04-07, 128 VPMEM
 * slots behind five bridges at 08-0c). A VPMEM device is narrowed to 4 GiB: every slot reserves
 * its maximum in guest-physical space, which under TCG is 40 bits (1 TiB).
 * Measured on QEMU 7.2 with 1 GiB RAM: 128 slots of 6 GiB start, of 7 GiB
 * "phys-bits too low"; 4 GiB leaves room for RAM and is hcsshim's default.
 */
export const QEMU_LIMITS: BackendLimits = Object.freeze({ ...LCOW_LIMITS, vpmemMaxSizeBytes: 4 * 1024 ** 3 });

export interface QemuArgsInput {
  spec: VmSpec;
  kernelPath: string;
  initrdPath: string;
  qmpSocket: string;
  agentSocket: string;
  /** 'tcg' or 'kvm'. */
  accel: string;
  /** Serial console to this file (and console=ttyS0); absent: no serial port. */
  consoleLogPath?: string;
  /**
   * gcs mode: the unix socket of the GCS bridge's port. QEMU waits for the
   * host to connect before it runs the guest (wait=on): with nobody there a
   * virtio-serial read returns EOF and the GCS exits.
   */
  gcsSocket?: string;
  /** gcs mode with vsock stdio: the guest's vsock context id (needs /dev/vhost-vsock). */
  vsockCid?: number;
  /**
   * Guest RAM in a file (templates, template/): share=true while a template
   * is built (the guest's pages land in the file), false for a VM restored
   * from it (a private copy-on-write mapping: the file never changes).
   */
  ramFile?: { path: string; share: boolean };
  /** Wait for `migrate-incoming` over QMP instead of booting (a restore from a template). */
  incoming?: boolean;
}

/** Hot-plug slots used on one VPMEM bridge (device 0 is left alone; 1..31). */
export const VPMEM_SLOTS_PER_BRIDGE = 31;

/** Where VPMEM slot s sits: its bridge (index, root-bus device) and its device number behind it. */
export function vpmemSlotLocation(slot: number): { bridge: number; bridgeDevice: number; device: number } {
  const bridge = Math.floor(slot / VPMEM_SLOTS_PER_BRIDGE);
  return { bridge, bridgeDevice: VPMEM_PCI_SLOT_BASE + bridge, device: 1 + (slot % VPMEM_SLOTS_PER_BRIDGE) };
}

/** QMP device_add placement of VPMEM slot s. */
export function vpmemDeviceBus(slot: number): { bus: string; addr: string } {
  const { bridge, device } = vpmemSlotLocation(slot);
  return { bus: `pmem-br${bridge}`, addr: hex(device) };
}

export function scsiControllerPciDevice(controller: number): number {
  return SCSI_PCI_SLOT_BASE + controller;
}

/** A function on the root bus as sysfs names it: 0000:00:DD.F. */
export function pciAddress(device: number, fn = 0): string {
  return `0000:00:${device.toString(16).padStart(2, '0')}.${fn}`;
}

/** Every SCSI controller the layout can hold: hcsshim's GUID for it (what the GCS asks for) and where it sits. */
export function scsiControllerAddresses(): { guid: string; pci: string }[] {
  return SCSI_CONTROLLER_GUIDS.map((guid, c) => ({ guid, pci: pciAddress(scsiControllerPciDevice(c)) }));
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** A value inside a QEMU `key=value,…` option: a literal comma is written twice. */
export function qemuOptValue(v: string): string {
  return v.replace(/,/g, ',,');
}

/** Device-memory space for VPMEM: every slot may hold a device of maxSizeBytes. */
export function memoryArg(spec: VmSpec): string {
  if (spec.vpmem.count === 0) return `${spec.memoryMiB}M`;
  const perDeviceMiB = Math.ceil(spec.vpmem.maxSizeBytes / (1 << 20));
  const maxMiB = spec.memoryMiB + spec.vpmem.count * perDeviceMiB;
  return `${spec.memoryMiB}M,slots=${spec.vpmem.count},maxmem=${maxMiB}M`;
}

export function validateSpec(spec: VmSpec): void {
  const bad = (field: string, why: string): never => {
    throw new LcowError('EINVAL', `VmSpec.${field} ${why}`, { vmId: spec.id, field });
  };
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(spec.id)) bad('id', 'must be 1-64 characters of [A-Za-z0-9._-]');
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 64) bad('memoryMiB', 'must be an integer ≥ 64');
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) bad('cpus', 'must be an integer ≥ 1');
  const limits = QEMU_LIMITS;
  if (!Number.isInteger(spec.scsiControllers) || spec.scsiControllers < 1 || spec.scsiControllers > limits.scsiControllers) {
    bad('scsiControllers', `must be 1..${limits.scsiControllers}`);
  }
  if (!Number.isInteger(spec.vpmem.count) || spec.vpmem.count < 0 || spec.vpmem.count > limits.vpmemDevices)
    bad('vpmem.count', `must be 0..${limits.vpmemDevices}`);
  const { maxSizeBytes } = spec.vpmem;
  if (spec.vpmem.count > 0 && (maxSizeBytes <= 0 || maxSizeBytes % VPMEM_SIZE_ALIGNMENT !== 0 || maxSizeBytes > limits.vpmemMaxSizeBytes)) {
    bad('vpmem.maxSizeBytes', `must be a positive multiple of ${VPMEM_SIZE_ALIGNMENT}, at most ${limits.vpmemMaxSizeBytes}`);
  }
  if (spec.boot.kind !== 'kernel-initrd') {
    throw new LcowError('EUNSUPPORTED', `the qemu backend boots kernel+initrd only (got ${spec.boot.kind})`, { vmId: spec.id, boot: spec.boot.kind });
  }
}

export function kernelCommandLine(spec: VmSpec, serialConsole: boolean): string {
  const parts = [
    serialConsole ? 'console=ttyS0' : '',
    // no reboot loop on panic: -no-reboot turns the reboot into an exit
    'panic=-1',
    'quiet',
    'rdinit=/init',
    // nothing in the guest needs entropy from a slow TCG jitter source
    'random.trust_cpu=on',
    spec.kernelArgs ?? '',
  ];
  return parts.filter(Boolean).join(' ');
}

export function buildQemuArgs(input: QemuArgsInput): string[] {
  const { spec } = input;
  validateSpec(spec);
  const args = [
    '-name',
    `lcow-${spec.id}`,
    '-accel',
    input.accel,
    '-M',
    'q35',
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-display',
    'none',
    '-serial',
    input.consoleLogPath ? `file:${qemuOptValue(input.consoleLogPath)}` : 'none',
    '-m',
    memoryArg(spec),
    '-smp',
    String(spec.cpus),
    '-kernel',
    input.kernelPath,
    '-initrd',
    input.initrdPath,
    '-append',
    kernelCommandLine(spec, input.consoleLogPath !== undefined),
    '-no-reboot',
    '-chardev',
    `socket,id=qmp,path=${qemuOptValue(input.qmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
    '-device',
    'virtio-serial-pci,id=vser0,bus=pcie.0,addr=0x2',
    '-chardev',
    `socket,id=qga,path=${qemuOptValue(input.agentSocket)},server=on,wait=off`,
    '-device',
    `virtserialport,bus=vser0.0,chardev=qga,name=${AGENT_PORT_NAME}`,
  ];
  if (input.gcsSocket) {
    args.push(
      '-chardev',
      `socket,id=gcs,path=${qemuOptValue(input.gcsSocket)},server=on,wait=on`,
      '-device',
      `virtserialport,bus=vser0.0,chardev=gcs,name=${GCS_PORT_NAME}`,
    );
  }
  if (input.ramFile) {
    const { path: ramPath, share } = input.ramFile;
    args.push(
      '-object',
      `memory-backend-file,id=ram0,size=${spec.memoryMiB}M,mem-path=${qemuOptValue(ramPath)},share=${share ? 'on' : 'off'}`,
      '-machine',
      'memory-backend=ram0',
    );
  }
  if (input.incoming) args.push('-incoming', 'defer');
  if (input.vsockCid !== undefined) args.push('-device', `vhost-vsock-pci,id=vsock0,guest-cid=${input.vsockCid},bus=pcie.0,addr=0x3`);
  for (let c = 0; c < spec.scsiControllers; c++) {
    args.push('-device', `virtio-scsi-pci,id=scsi${c},bus=pcie.0,addr=${hex(scsiControllerPciDevice(c))}`);
  }
  const bridges = Math.ceil(spec.vpmem.count / VPMEM_SLOTS_PER_BRIDGE);
  // q35 does ACPI hot-plug on bridges only with this (the bridges' slots have no other hot-plug controller: shpc=off)
  if (bridges > 0) args.push('-global', 'ICH9-LPC.acpi-pci-hotplug-with-bridge-support=on');
  for (let b = 0; b < bridges; b++) {
    args.push(
      '-device',
      `pci-bridge,id=pmem-br${b},bus=pcie.0,addr=${hex(VPMEM_PCI_SLOT_BASE + b)},chassis_nr=${b + 1},shpc=off,io-reserve=0,mem-reserve=2M,pref64-reserve=2M`,
    );
  }
  return args;
}
