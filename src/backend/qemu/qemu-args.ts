/**
 * VmSpec → qemu-system-x86_64 argv. Pure, so the mapping is unit-tested.
 *
 * PCI layout on the q35 root bus is fixed so that the guest can find a
 * device by where it sits rather than by probe order:
 *   00:02.0        virtio-serial (the agent's port; in gcs mode the GCS bridge's too)
 *   00:03.0        vhost-vsock (gcs mode, where the host has /dev/vhost-vsock)
 *   00:04.0+c      virtio-scsi controller c (id scsi<c>), c = 0..3
 *   00:08.0 …      pcie-root-port for VPMEM slot s at 00:(08 + s/8).(s%8)
 *                  (id pmem-rp<s>); 16 multifunction devices hold 128 ports.
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
 * The LCOW counts fit the PCI layout above (controllers at 04-07, 128 root
 * ports at 08-17). A VPMEM device is narrowed to 4 GiB: every slot reserves
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
}

/** PCI address ("slot.function", hex slot) of the root port for VPMEM slot s. */
export function vpmemRootPortAddr(slot: number): { device: number; fn: number } {
  return { device: VPMEM_PCI_SLOT_BASE + Math.floor(slot / 8), fn: slot % 8 };
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
  if (input.vsockCid !== undefined) args.push('-device', `vhost-vsock-pci,id=vsock0,guest-cid=${input.vsockCid},bus=pcie.0,addr=0x3`);
  for (let c = 0; c < spec.scsiControllers; c++) {
    args.push('-device', `virtio-scsi-pci,id=scsi${c},bus=pcie.0,addr=${hex(scsiControllerPciDevice(c))}`);
  }
  for (let s = 0; s < spec.vpmem.count; s++) {
    const { device, fn } = vpmemRootPortAddr(s);
    const multi = fn === 0 ? ',multifunction=on' : '';
    args.push('-device', `pcie-root-port,id=pmem-rp${s},bus=pcie.0,chassis=${s + 1},addr=${hex(device)}.${fn}${multi}`);
  }
  return args;
}
