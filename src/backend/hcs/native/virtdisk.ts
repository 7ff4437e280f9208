/** Typed view of virtdisk.dll. Every function returns a Win32 error code (0 = success). */
import type { KoffiFunc } from 'koffi';
import { VIRTDISK } from '../../../../native-defs/virtdisk.js';
import { bindLibrary } from './bind.js';
import type { Out, Ptr } from './computecore.js';

export interface Guid {
  Data1: number;
  Data2: number;
  Data3: number;
  Data4: number[];
}

export interface VirtualStorageType {
  DeviceId: number;
  VendorId: Guid;
}

export interface CreateVirtualDiskParametersV2 {
  Version: 2;
  Version2: {
    UniqueId: Guid;
    MaximumSize: bigint;
    BlockSizeInBytes: number;
    SectorSizeInBytes: number;
    PhysicalSectorSizeInBytes: number;
    ParentPath: string | null;
    SourcePath: string | null;
    OpenFlags: number;
    ParentVirtualStorageType: VirtualStorageType;
    SourceVirtualStorageType: VirtualStorageType;
    ResiliencyGuid: Guid;
  };
}

export interface OpenVirtualDiskParametersV2 {
  Version: 2;
  Version2: { GetInfoOnly: number; ReadOnly: number; ResiliencyGuid: Guid };
}

export interface AttachVirtualDiskParametersV2 {
  Version: 2;
  Version2: { RestrictedOffset: bigint; RestrictedLength: bigint };
}

export interface VirtDiskApi {
  CreateVirtualDisk: KoffiFunc<
    (
      storageType: VirtualStorageType,
      path: string,
      accessMask: number,
      sd: Ptr,
      flags: number,
      providerSpecificFlags: number,
      parameters: CreateVirtualDiskParametersV2,
      overlapped: Ptr,
      handle: Out<bigint>,
    ) => number
  >;
  OpenVirtualDisk: KoffiFunc<
    (
      storageType: VirtualStorageType,
      path: string,
      accessMask: number,
      flags: number,
      parameters: OpenVirtualDiskParametersV2 | null,
      handle: Out<bigint>,
    ) => number
  >;
  AttachVirtualDisk: KoffiFunc<
    (handle: Ptr, sd: Ptr, flags: number, providerSpecificFlags: number, parameters: AttachVirtualDiskParametersV2 | null, overlapped: Ptr) => number
  >;
  DetachVirtualDisk: KoffiFunc<(handle: Ptr, flags: number, providerSpecificFlags: number) => number>;
  GetVirtualDiskPhysicalPath: KoffiFunc<(handle: Ptr, sizeInBytes: [number], diskPath: Buffer) => number>;
}

export function loadVirtDisk(path: string): VirtDiskApi {
  return bindLibrary(path, VIRTDISK) as unknown as VirtDiskApi;
}

export const ZERO_GUID: Guid = { Data1: 0, Data2: 0, Data3: 0, Data4: [0, 0, 0, 0, 0, 0, 0, 0] };

/** VIRTUAL_STORAGE_TYPE_DEVICE_* */
export const StorageDeviceId = { Unknown: 0, Iso: 1, Vhd: 2, Vhdx: 3 } as const;
/** VIRTUAL_DISK_ACCESS_* (must be NONE with v2 create parameters) */
export const VirtualDiskAccess = { None: 0, AttachRO: 0x10000, AttachRW: 0x20000, Detach: 0x40000, GetInfo: 0x80000, All: 0x3f0000 } as const;
export const CreateVirtualDiskFlag = { None: 0, FullPhysicalAllocation: 1, SparseFile: 0x80, PmemCompatible: 0x100 } as const;
export const AttachVirtualDiskFlag = { None: 0, ReadOnly: 1, NoDriveLetter: 2, PermanentLifetime: 4 } as const;
