/**
 * The LCOW kernel command line, in hcsshim's order (create_lcow.go):
 * root file system, vsock/uart/panic settings, caller arguments, pci=off,
 * then `nr_cpus=N brd.rd_nr=0 pmtmr=0 -- <init arguments>`.
 * Everything after `--` is passed to the guest's init, not the kernel.
 */
import { DEFAULT_GCS_COMMAND } from './constants.js';

export type RootFs =
  /** initrd loaded by LinuxKernelDirect: nothing to say on the command line. */
  | { kind: 'initrd-direct' }
  /** initrd loaded by UEFI from the boot folder. */
  | { kind: 'initrd-uefi' }
  /** read-only root-file-system VHD on VPMEM device 0. */
  | { kind: 'vpmem-rootfs' };

export interface KernelCmdLineOptions {
  rootFs: RootFs;
  cpus: number;
  /** Appended after hcsshim's fixed parameters (VmSpec.kernelArgs). */
  extraArgs?: string;
  /** Init arguments after `--`; default: vsockexec + gcs. */
  initCommand?: string;
}

function rootFsArgs(rootFs: RootFs): string[] {
  switch (rootFs.kind) {
    case 'initrd-direct':
      return [];
    case 'initrd-uefi':
      return ['initrd=/initrd.img'];
    case 'vpmem-rootfs':
      return ['root=/dev/pmem0', 'ro', 'rootwait', 'init=/init'];
  }
}

export function buildKernelCmdLine(o: KernelCmdLineOptions): string {
  const extra = o.extraArgs?.trim();
  return [
    ...rootFsArgs(o.rootFs),
    'initcall_blacklist=virtio_vsock_init',
    '8250_core.nr_uarts=0',
    'panic=-1',
    'quiet',
    ...(extra ? [extra] : []),
    'pci=off',
    `nr_cpus=${o.cpus}`,
    'brd.rd_nr=0',
    'pmtmr=0',
    '--',
    '-e',
    '1',
    o.initCommand ?? DEFAULT_GCS_COMMAND,
  ].join(' ');
}
