/**
 * ModifySettingRequest documents (HcsModifyComputeSystem `configuration`) for
 * the host side of hot-plug: SCSI attachments and VPMEM devices.
 * HCS ignores Settings on Remove, so Remove carries none.
 */
import { LcowError } from '../../../errors.js';
import type { DiskFormat } from '../../types.js';
import { SCSI_CONTROLLER_GUIDS } from './constants.js';
import { requireNonEmpty, requireScsiSlot, requireVpmemSlot } from './validate.js';

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

export function scsiResourcePath(controller: number, lun: number): string {
  requireScsiSlot(controller, lun);
  return `VirtualMachine/Devices/Scsi/${SCSI_CONTROLLER_GUIDS[controller]}/Attachments/${lun}`;
}

export function vpmemResourcePath(slot: number): string {
  requireVpmemSlot(slot);
  return `VirtualMachine/Devices/VirtualPMem/Devices/${slot}`;
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
