// One VmSpec fixture for tests that only build specs (argv, documents, template keys); each states what it varies.
import type { BootSpec, VmSpec } from '../../src/backend/types.js';

/** Windows-style boot paths: the HCS tests never open them. */
export const WINDOWS_BOOT: BootSpec = { kind: 'kernel-initrd', kernelPath: 'C:\\boot\\vmlinux', initrdPath: 'C:\\boot\\initrd.img' };

export function testVmSpec(over: Partial<VmSpec> = {}): VmSpec {
  return {
    id: 'vm1',
    memoryMiB: 512,
    cpus: 1,
    boot: { kind: 'kernel-initrd', kernelPath: '/k', initrdPath: '/i' },
    scsiControllers: 1,
    vpmem: { count: 0, maxSizeBytes: 0 },
    ...over,
  };
}
