/**
 * Sandbox VHDX creation through virtdisk (what go-winio's vhd.CreateVhdx does):
 * CreateVirtualDisk with version-2 parameters, access mask NONE (required
 * with v2), zero storage type (virtdisk infers VHDX from the extension).
 */
import { LcowError } from '../../errors.js';
import { win32Error } from './hresult.js';
import { callAsync } from './native/call-async.js';
import { loadKernel32 } from './native/kernel32.js';
import { resolveLibraryPaths, type HcsLibraryPaths } from './native/load.js';
import { CreateVirtualDiskFlag, StorageDeviceId, VirtualDiskAccess, ZERO_GUID, loadVirtDisk, type CreateVirtualDiskParametersV2 } from './native/virtdisk.js';

const GiB = 1n << 30n;
const MiB = 1 << 20;

export function createVhdxParameters(sizeGB: number, blockSizeMB: number): CreateVirtualDiskParametersV2 {
  if (!Number.isSafeInteger(sizeGB) || sizeGB <= 0) throw new LcowError('EINVAL', 'sizeGB must be a positive integer', { sizeGB });
  if (!Number.isSafeInteger(blockSizeMB) || blockSizeMB < 0 || blockSizeMB > 256) {
    throw new LcowError('EINVAL', 'blockSizeMB must be 0 (default) to 256', { blockSizeMB });
  }
  const zeroType = { DeviceId: StorageDeviceId.Unknown, VendorId: ZERO_GUID };
  return {
    Version: 2,
    Version2: {
      UniqueId: ZERO_GUID,
      MaximumSize: BigInt(sizeGB) * GiB,
      BlockSizeInBytes: blockSizeMB * MiB,
      SectorSizeInBytes: 0,
      PhysicalSectorSizeInBytes: 0,
      ParentPath: null,
      SourcePath: null,
      OpenFlags: 0,
      ParentVirtualStorageType: zeroType,
      SourceVirtualStorageType: zeroType,
      ResiliencyGuid: ZERO_GUID,
    },
  };
}

/** Create a dynamic VHDX (not formatted). EPLATFORM off Windows unless library paths are given. */
export async function createVhdxViaVirtdisk(path: string, sizeGB: number, blockSizeMB = 1, libraries?: Partial<HcsLibraryPaths>): Promise<void> {
  const params = createVhdxParameters(sizeGB, blockSizeMB);
  const paths = resolveLibraryPaths(libraries);
  const vd = loadVirtDisk(paths.virtdisk);
  const k32 = loadKernel32(paths.kernel32);
  const handle: [bigint | null] = [null];
  const storageType = { DeviceId: StorageDeviceId.Unknown, VendorId: ZERO_GUID };
  const rc = await callAsync(vd.CreateVirtualDisk, storageType, path, VirtualDiskAccess.None, null, CreateVirtualDiskFlag.None, 0, params, null, handle);
  if (rc !== 0) throw win32Error(rc, 'CreateVirtualDisk', { path, sizeGB, blockSizeMB });
  if (handle[0]) await callAsync(k32.CloseHandle, handle[0]);
}
