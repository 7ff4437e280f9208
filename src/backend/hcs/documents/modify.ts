/**
 * ModifySettingRequest documents (HcsModifyComputeSystem `configuration`) for
 * the host side of hot-plug: SCSI attachments and VPMEM devices.
 * HCS ignores Settings on Remove, so Remove carries none.
 */
import { LcowError } from '../../../errors.js';
import type { DiskFormat } from '../../types.js';
import { SCSI_CONTROLLER_GUIDS } from './constants.js';
import { requireInteger, requireNonEmpty, requireScsiSlot, requireVpmemSlot } from '../../request-checks.js';

export type RequestType = 'Add' | 'Remove' | 'Update';

export interface ModifySettingRequest<S = unknown> {
  ResourcePath: string;
  RequestType: RequestType;
  Settings?: S;
}

export interface ScsiAttachment {
  Type: 'VirtualDisk' | 'PassThru' | 'ExtensibleVirtualDisk';
  Path: string;
  ReadOnly: boolean;
}

export interface VirtualPMemDevice {
  HostPath: string;
  ReadOnly: true;
  ImageFormat: 'Vhd1' | 'Vhdx';
}

/** A further file on an existing VPMEM device (hcsshim's VirtualPMemMapping). */
export type VirtualPMemMapping = Omit<VirtualPMemDevice, 'ReadOnly'>;

export function scsiResourcePath(controller: number, lun: number): string {
  requireScsiSlot(controller, lun);
  return `VirtualMachine/Devices/Scsi/${SCSI_CONTROLLER_GUIDS[controller]}/Attachments/${lun}`;
}

export function vpmemResourcePath(slot: number): string {
  requireVpmemSlot(slot);
  return `VirtualMachine/Devices/VirtualPMem/Devices/${slot}`;
}

/** One file among several on a VPMEM device (mapped VPMEM): the device's path plus the byte offset. */
export function vpmemMappingResourcePath(slot: number, offsetBytes: number): string {
  return `${vpmemResourcePath(slot)}/Mappings/${requireInteger('offsetBytes', offsetBytes, 0, Number.MAX_SAFE_INTEGER)}`;
}

export function addScsiAttachment(controller: number, lun: number, hostPath: string, readOnly: boolean): ModifySettingRequest<ScsiAttachment> {
  return {
    ResourcePath: scsiResourcePath(controller, lun),
    RequestType: 'Add',
    Settings: { Type: 'VirtualDisk', Path: requireNonEmpty('hostPath', hostPath), ReadOnly: readOnly },
  };
}

export function removeScsiAttachment(controller: number, lun: number): ModifySettingRequest<never> {
  return { ResourcePath: scsiResourcePath(controller, lun), RequestType: 'Remove' };
}

/**
 * VPMEM image format from the caller's format or the file extension;
 * undefined for a raw image, which HCS cannot back a VPMEM device with.
 */
export function vpmemImageFormat(hostPath: string, format?: DiskFormat): VirtualPMemDevice['ImageFormat'] | undefined {
  const f = format ?? (/\.vhdx$/i.test(hostPath) ? 'vhdx' : /\.vhd$/i.test(hostPath) ? 'vhd' : 'raw');
  return f === 'vhd' ? 'Vhd1' : f === 'vhdx' ? 'Vhdx' : undefined;
}

/** A VPMEM device for a VHD or VHDX; EUNSUPPORTED for a raw image (addVpmemDevice refuses it before it gets here). */
export function vpmemDevice(hostPath: string, format?: DiskFormat): VirtualPMemDevice {
  const imageFormat = vpmemImageFormat(hostPath, format);
  if (imageFormat === undefined) throw new LcowError('EUNSUPPORTED', 'HCS VPMEM devices take VHD or VHDX images only', { hostPath, format });
  return { HostPath: requireNonEmpty('hostPath', hostPath), ReadOnly: true, ImageFormat: imageFormat };
}

export function addVpmemDevice(slot: number, hostPath: string, format?: DiskFormat): ModifySettingRequest<VirtualPMemDevice> {
  return { ResourcePath: vpmemResourcePath(slot), RequestType: 'Add', Settings: vpmemDevice(hostPath, format) };
}

export function removeVpmemDevice(slot: number): ModifySettingRequest<never> {
  return { ResourcePath: vpmemResourcePath(slot), RequestType: 'Remove' };
}

/**
 * Mapped VPMEM as hcsshim sends it: the first file of a slot creates the
 * device (with that file as its HostPath), every further one is a Mapping
 * at its offset; removing the last one removes the device.
 */
export function addVpmemMapping(
  slot: number,
  offsetBytes: number,
  hostPath: string,
  format: DiskFormat | undefined,
  firstOfDevice: boolean,
): ModifySettingRequest<VirtualPMemDevice | VirtualPMemMapping> {
  if (firstOfDevice) return addVpmemDevice(slot, hostPath, format);
  const { HostPath, ImageFormat } = vpmemDevice(hostPath, format);
  return { ResourcePath: vpmemMappingResourcePath(slot, offsetBytes), RequestType: 'Add', Settings: { HostPath, ImageFormat } };
}

export function removeVpmemMapping(slot: number, offsetBytes: number, lastOfDevice: boolean): ModifySettingRequest<never> {
  return lastOfDevice ? removeVpmemDevice(slot) : { ResourcePath: vpmemMappingResourcePath(slot, offsetBytes), RequestType: 'Remove' };
}
