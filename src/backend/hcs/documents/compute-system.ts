/**
 * The schema-v2 ComputeSystem document for an LCOW utility VM
 * (HcsCreateComputeSystem `configuration`), field for field what hcsshim's
 * MakeLCOWDoc emits. Pure: the same options give the same JSON.
 */
import { LcowError } from '../../../errors.js';
import { VPMEM_SIZE_ALIGNMENT } from '../../contract.js';
import { HCS_LIMITS, HVSOCKET_DEFAULT_BIND_SD, SCHEMA_VERSION, SCSI_CONTROLLER_GUIDS } from './constants.js';
import { requireInteger, requireNonEmpty } from '../../request-checks.js';
import type { VirtualPMemDevice } from './modify.js';

export type LcowBootDoc =
  /** LinuxKernelDirect: HCS loads the kernel (and initrd) itself. */
  | { kind: 'kernel-direct'; kernelPath: string; initrdPath?: string }
  /** UEFI: the firmware loads `\<kernelFile>` from bootDir over VmbFs. */
  | { kind: 'uefi'; bootDir: string; kernelFile: string };

export interface LcowComputeSystemOptions {
  owner: string;
  memoryMiB: number;
  cpus: number;
  boot: LcowBootDoc;
  /** The whole command line (see kernel-cmdline.ts). */
  kernelCmdLine: string;
  /** 0..4 controllers, keyed by the hcsshim GUIDs in index order. */
  scsiControllers: number;
  /** count 0 leaves VirtualPMem out of the document. */
  vpmem: { count: number; maxSizeBytes: number };
  /** Root-file-system VHD placed on VPMEM device 0 at create time. */
  vpmemRootFs?: VirtualPMemDevice;
}

/** hcsshim rounds memory up to an even number of MB (Hyper-V wants 2 MB granularity). */
export function roundMemoryMiB(memoryMiB: number): number {
  return Math.ceil(memoryMiB / 2) * 2;
}

export interface ComputeSystemDocument {
  Owner: string;
  SchemaVersion: { Major: number; Minor: number };
  ShouldTerminateOnLastHandleClosed: boolean;
  VirtualMachine: {
    StopOnReset: boolean;
    Chipset: Record<string, unknown>;
    ComputeTopology: { Memory: { SizeInMB: number; AllowOvercommit: boolean }; Processor: { Count: number } };
    Devices: {
      Scsi?: Record<string, { Attachments: Record<string, unknown> }>;
      VirtualPMem?: { MaximumCount: number; MaximumSizeBytes: number; Devices?: Record<string, VirtualPMemDevice> };
      HvSocket: { HvSocketConfig: { DefaultBindSecurityDescriptor: string } };
      Plan9: Record<string, never>;
    };
  };
}

function chipset(boot: LcowBootDoc, cmdLine: string): Record<string, unknown> {
  if (boot.kind === 'kernel-direct') {
    return {
      LinuxKernelDirect: {
        KernelFilePath: requireNonEmpty('kernelPath', boot.kernelPath),
        ...(boot.initrdPath ? { InitRdPath: boot.initrdPath } : {}),
        KernelCmdLine: cmdLine,
      },
    };
  }
  return {
    Uefi: {
      BootThis: {
        DevicePath: `\\${requireNonEmpty('kernelFile', boot.kernelFile)}`,
        DeviceType: 'VmbFs',
        VmbFsRootPath: requireNonEmpty('bootDir', boot.bootDir),
        OptionalData: cmdLine,
      },
    },
  };
}

function scsi(count: number): Record<string, { Attachments: Record<string, unknown> }> {
  requireInteger('scsiControllers', count, 0, HCS_LIMITS.scsiControllers);
  return Object.fromEntries(SCSI_CONTROLLER_GUIDS.slice(0, count).map((guid) => [guid, { Attachments: {} }]));
}

function virtualPMem(o: LcowComputeSystemOptions): ComputeSystemDocument['VirtualMachine']['Devices']['VirtualPMem'] {
  const { count, maxSizeBytes } = o.vpmem;
  requireInteger('vpmem.count', count, 0, HCS_LIMITS.vpmemDevices);
  if (count === 0) {
    if (o.vpmemRootFs) throw new LcowError('EINVAL', 'a VPMEM root file system needs vpmem.count ≥ 1', { field: 'vpmem.count' });
    return undefined;
  }
  if (!Number.isSafeInteger(maxSizeBytes) || maxSizeBytes <= 0 || maxSizeBytes % VPMEM_SIZE_ALIGNMENT !== 0 || maxSizeBytes > HCS_LIMITS.vpmemMaxSizeBytes) {
    throw new LcowError('EINVAL', `vpmem.maxSizeBytes must be a positive multiple of ${VPMEM_SIZE_ALIGNMENT}`, {
      field: 'vpmem.maxSizeBytes',
      value: maxSizeBytes,
    });
  }
  return {
    MaximumCount: count,
    MaximumSizeBytes: maxSizeBytes,
    ...(o.vpmemRootFs ? { Devices: { '0': o.vpmemRootFs } } : {}),
  };
}

export function buildLcowComputeSystem(o: LcowComputeSystemOptions): ComputeSystemDocument {
  requireInteger('memoryMiB', o.memoryMiB, 2, 1 << 30);
  requireInteger('cpus', o.cpus, 1, 2048);
  const pmem = virtualPMem(o);
  const scsiControllers = scsi(o.scsiControllers);
  return {
    Owner: o.owner,
    SchemaVersion: { ...SCHEMA_VERSION },
    ShouldTerminateOnLastHandleClosed: true,
    VirtualMachine: {
      StopOnReset: true,
      Chipset: chipset(o.boot, o.kernelCmdLine),
      ComputeTopology: {
        Memory: { SizeInMB: roundMemoryMiB(o.memoryMiB), AllowOvercommit: true },
        Processor: { Count: o.cpus },
      },
      Devices: {
        ...(o.scsiControllers > 0 ? { Scsi: scsiControllers } : {}),
        ...(pmem ? { VirtualPMem: pmem } : {}),
        HvSocket: { HvSocketConfig: { DefaultBindSecurityDescriptor: HVSOCKET_DEFAULT_BIND_SD } },
        Plan9: {},
      },
    },
  };
}
