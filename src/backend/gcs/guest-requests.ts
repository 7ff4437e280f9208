/**
 * ModifySettings requests in hcsshim's guest shapes
 * (guestrequest.ModificationRequest + guestresource.LCOW*): what the GCS is
 * asked to mount, unmount, unite and unplug. Fields that hcsshim marks
 * `omitempty` are left out when unset; the real GCS (v0.12.0-rc.3) accepted
 * each of these shapes.
 */
import { LcowError } from '../../errors.js';
import { requireInteger, requireNonEmpty, requireScsiSlot, requireVpmemSlot } from '../request-checks.js';
import type { CombineLayersRequest, ScsiMountRequest, VpmemMapping, VpmemMountRequest } from '../types.js';

export type GuestResourceType = 'MappedVirtualDisk' | 'VPMemDevice' | 'CombinedLayers' | 'SCSIDevice';
export type GuestRequestType = 'Add' | 'Remove' | 'Update';

export interface GuestModifyRequest<S = unknown> {
  ResourceType: GuestResourceType;
  RequestType: GuestRequestType;
  Settings: S;
}

export interface LcowMappedVirtualDisk {
  MountPath: string;
  Controller: number;
  Lun: number;
  ReadOnly: boolean;
  Options?: string[];
  Filesystem?: string;
}

/** The part of a shared VPMEM device one layer occupies; the GCS puts a dm-linear device over it. */
export interface LcowVPMemMappingInfo {
  DeviceOffsetInBytes: number;
  DeviceSizeInBytes: number;
}

export interface LcowMappedVPMemDevice {
  DeviceNumber: number;
  MountPath: string;
  MappingInfo?: LcowVPMemMappingInfo;
}

export interface LcowCombinedLayers {
  ContainerID?: string;
  ContainerRootPath: string;
  Layers?: { Path: string }[];
  ScratchPath?: string;
}

function absoluteGuestPath(field: string, p: string): string {
  if (!requireNonEmpty(field, p).startsWith('/')) throw new LcowError('EINVAL', `${field} must be an absolute guest path`, { field, path: p });
  return p;
}

function mappedVirtualDisk(req: ScsiMountRequest): LcowMappedVirtualDisk {
  requireScsiSlot(req.controller, req.lun);
  return {
    MountPath: absoluteGuestPath('guestPath', req.guestPath),
    Controller: req.controller,
    Lun: req.lun,
    ReadOnly: req.readOnly,
    ...(req.options?.length ? { Options: [...req.options] } : {}),
    ...(req.fsType ? { Filesystem: req.fsType } : {}),
  };
}

export function mountScsiRequest(req: ScsiMountRequest): GuestModifyRequest<LcowMappedVirtualDisk> {
  return { ResourceType: 'MappedVirtualDisk', RequestType: 'Add', Settings: mappedVirtualDisk(req) };
}

/** hcsshim re-sends the mount's settings on Remove; the guest unmounts MountPath. */
export function unmountScsiRequest(req: ScsiMountRequest): GuestModifyRequest<LcowMappedVirtualDisk> {
  return { ResourceType: 'MappedVirtualDisk', RequestType: 'Remove', Settings: mappedVirtualDisk(req) };
}

const PAGE = 4096;

function mappingInfo(m: VpmemMapping): LcowVPMemMappingInfo {
  const offset = requireInteger('mapping.offsetBytes', m.offsetBytes, 0, Number.MAX_SAFE_INTEGER);
  const size = requireInteger('mapping.sizeBytes', m.sizeBytes, PAGE, Number.MAX_SAFE_INTEGER);
  if (offset % PAGE !== 0 || size % PAGE !== 0) {
    throw new LcowError('EINVAL', `a VPMEM mapping is page-aligned (offset ${offset}, size ${size})`, { offsetBytes: offset, sizeBytes: size });
  }
  return { DeviceOffsetInBytes: offset, DeviceSizeInBytes: size };
}

function mappedVpmem(req: VpmemMountRequest): LcowMappedVPMemDevice {
  requireVpmemSlot(req.slot);
  return {
    DeviceNumber: req.slot,
    MountPath: absoluteGuestPath('guestPath', req.guestPath),
    ...(req.mapping ? { MappingInfo: mappingInfo(req.mapping) } : {}),
  };
}

/** The GCS mounts /dev/pmem<DeviceNumber> (or, with MappingInfo, a dm-linear device over part of it) read-only. */
export function mountVpmemRequest(req: VpmemMountRequest): GuestModifyRequest<LcowMappedVPMemDevice> {
  return { ResourceType: 'VPMemDevice', RequestType: 'Add', Settings: mappedVpmem(req) };
}

/** With MappingInfo the GCS also removes the dm-linear device it made. */
export function unmountVpmemRequest(req: VpmemMountRequest): GuestModifyRequest<LcowMappedVPMemDevice> {
  return { ResourceType: 'VPMemDevice', RequestType: 'Remove', Settings: mappedVpmem(req) };
}

/** Guest drops /sys/bus/scsi/devices/C:0:0:L before the host removes the attachment. */
export function unplugScsiRequest(controller: number, lun: number): GuestModifyRequest<{ Controller: number; Lun: number }> {
  requireScsiSlot(controller, lun);
  return { ResourceType: 'SCSIDevice', RequestType: 'Remove', Settings: { Controller: controller, Lun: lun } };
}

/**
 * The GCS derives upper and work from one ScratchPath (`<s>/upper`, `<s>/work`),
 * so a request whose directories do not have that shape cannot be expressed.
 */
function scratchPathOf(req: CombineLayersRequest): string | undefined {
  if (req.upperDir === undefined && req.workDir === undefined) return undefined;
  const upper = req.upperDir ?? '';
  const work = req.workDir ?? '';
  const scratch = upper.replace(/\/upper$/, '');
  if (!upper.endsWith('/upper') || work !== `${scratch}/work`) {
    throw new LcowError('EUNSUPPORTED', 'the GCS overlay needs upperDir=<scratch>/upper and workDir=<scratch>/work', {
      upperDir: req.upperDir,
      workDir: req.workDir,
    });
  }
  return absoluteGuestPath('upperDir', scratch);
}

export function combineLayersRequest(req: CombineLayersRequest): GuestModifyRequest<LcowCombinedLayers> {
  if (req.lowerDirs.length === 0) throw new LcowError('EINVAL', 'combineLayers needs at least one lower directory', {});
  const scratch = scratchPathOf(req);
  return {
    ResourceType: 'CombinedLayers',
    RequestType: 'Add',
    Settings: {
      ContainerRootPath: absoluteGuestPath('target', req.target),
      Layers: req.lowerDirs.map((p) => ({ Path: absoluteGuestPath('lowerDirs[]', p) })),
      ...(scratch ? { ScratchPath: scratch } : {}),
    },
  };
}

/** hcsshim removes combined layers with only the root path. */
export function removeCombinedLayersRequest(target: string): GuestModifyRequest<LcowCombinedLayers> {
  return { ResourceType: 'CombinedLayers', RequestType: 'Remove', Settings: { ContainerRootPath: absoluteGuestPath('target', target) } };
}
