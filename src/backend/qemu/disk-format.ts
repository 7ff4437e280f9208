/**
 * Disk files → how QEMU should open them.
 *
 * Detection (when the caller gives no format): a `vhdxfile` signature at
 * offset 0 is VHDX; a `conectix` cookie in the last 512 bytes is a VHD
 * (disk type 2 = fixed; otherwise dynamic, whose footer copy is also at
 * offset 0); anything else is raw. A fixed VHD is opened as raw with the
 * footer cut off by `size` — the same bytes as the vpc driver, without
 * its per-request translation.
 */
import { open } from 'node:fs/promises';
import { LcowError } from '../../errors.js';
import { vpmemRefused, type VpmemAddResult } from '../contract.js';
import type { DiskFormat } from '../types.js';

export const VHD_FOOTER_SIZE = 512;
const VHD_COOKIE = 'conectix';
const VHDX_SIGNATURE = 'vhdxfile';
const VHD_TYPE_FIXED = 2;

export interface DiskLayout {
  format: DiskFormat;
  /** Fixed VHD: the data size before the footer (raw-mappable). */
  fixedVhdDataSize?: number;
  fileSize: number;
}

export async function inspectDisk(path: string, declared?: DiskFormat): Promise<DiskLayout> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new LcowError('ENOTFOUND', `cannot open disk ${path}`, { path }, { cause: err });
  }
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    const tail = Buffer.alloc(VHD_FOOTER_SIZE);
    if (size >= VHD_FOOTER_SIZE) await fh.read(tail, 0, VHD_FOOTER_SIZE, size - VHD_FOOTER_SIZE);
    const tailIsVhd = size >= VHD_FOOTER_SIZE && tail.toString('latin1', 0, 8) === VHD_COOKIE;
    const fixed = tailIsVhd && tail.readUInt32BE(60) === VHD_TYPE_FIXED;
    let format: DiskFormat = declared ?? 'raw';
    if (!declared) {
      if (head.toString('latin1') === VHDX_SIGNATURE) format = 'vhdx';
      else if (tailIsVhd || head.toString('latin1') === VHD_COOKIE) format = 'vhd';
    }
    const layout: DiskLayout = { format, fileSize: size };
    if (format === 'vhd' && fixed) layout.fixedVhdDataSize = size - VHD_FOOTER_SIZE;
    return layout;
  } finally {
    await fh.close();
  }
}

/** The QMP blockdev-add arguments for a disk (node name chosen by the caller). */
export function blockdevArgs(nodeName: string, path: string, layout: DiskLayout, readOnly: boolean): Record<string, unknown> {
  const file = { driver: 'file', filename: path, 'read-only': readOnly };
  const common = { 'node-name': nodeName, 'read-only': readOnly, file };
  switch (layout.format) {
    case 'raw':
      return { driver: 'raw', ...common };
    case 'vhdx':
      return { driver: 'vhdx', ...common };
    case 'vhd':
      if (layout.fixedVhdDataSize !== undefined) return { driver: 'raw', ...common, offset: 0, size: layout.fixedVhdDataSize };
      return { driver: 'vpc', ...common };
  }
}

/** A virtio-pmem region must be a whole number of these (Linux maps memory in 2 MiB subsections). */
export const VPMEM_ALIGNMENT = 2 * 1024 * 1024;

/**
 * What a VPMEM device would map of this file: the whole raw file, or a fixed
 * VHD without its footer — or why QEMU cannot. VHDX and dynamic VHD are not
 * flat, so they cannot be memory-mapped; the data must be a non-zero
 * multiple of 2 MiB, because mapping more would need QEMU to grow the file
 * and mapping less would cut the file system.
 */
export function vpmemMapping(layout: DiskLayout, path: string, maxSizeBytes: number): { size: number } | VpmemAddResult {
  const size = layout.format === 'raw' ? layout.fileSize : layout.fixedVhdDataSize;
  if (size === undefined) return vpmemRefused('unsuitable', `VPMEM needs a raw file or a fixed VHD; ${path} is ${layout.format}`);
  if (size > maxSizeBytes) return vpmemRefused('too-large', `${path} (${size} bytes) exceeds the VPMEM device maximum ${maxSizeBytes}`);
  if (size === 0 || size % VPMEM_ALIGNMENT !== 0) return vpmemRefused('unsuitable', `${path}: VPMEM data size ${size} is not a multiple of ${VPMEM_ALIGNMENT}`);
  return { size };
}
