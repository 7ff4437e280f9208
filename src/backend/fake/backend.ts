/**
 * The in-memory hypervisor: instant, deterministic, inspectable. Used by the
 * uvm/ tests for thousands of cases and by the svm/driver tests as a stand-in
 * for QEMU. Every VM it creates is kept in `vms` so a test can reach in
 * (faults, calls, guest file system, kill).
 */
import { LcowError, type LcowErrorCode } from '../../errors.js';
import { LCOW_LIMITS, type BackendCapabilities, type BackendLimits } from '../contract.js';
import type { BootSpec, CreateVmOptions, HypervisorBackend, VmSpec } from '../types.js';
import { FakeDisks } from './disks.js';
import { FakeVm } from './vm.js';

export interface FakeBackendOptions {
  /** Narrower hardware than hcsshim's (the default), to test that callers read the limits. */
  limits?: Partial<BackendLimits>;
  /** 'same-file-only' behaves like QEMU, which cannot unplug virtio-pmem; vpmemMapped like HCS. Default 'full', not mapped. */
  capabilities?: Partial<BackendCapabilities>;
}

export class FakeBackend implements HypervisorBackend {
  readonly name = 'fake' as const;
  readonly guestAgent = 'fake';
  readonly limits: BackendLimits;
  readonly capabilities: BackendCapabilities;
  /** The fake host's disk files. */
  readonly disks = new FakeDisks();
  /** Every VM created, in order. */
  readonly vms: FakeVm[] = [];
  /** Pass as `hostFiles` to createUtilityVM so layer sizes come from `disks`. */
  readonly hostFiles = { size: (hostPath: string) => this.disks.size(hostPath) };
  private createFailures: (Error | LcowErrorCode)[] = [];

  constructor(options: FakeBackendOptions = {}) {
    this.limits = { ...LCOW_LIMITS, ...options.limits };
    this.capabilities = { vpmemUnplug: 'full', vpmemMapped: false, ...options.capabilities };
  }

  async createVm(spec: VmSpec, _options?: CreateVmOptions): Promise<FakeVm> {
    const failure = this.createFailures.shift();
    if (failure !== undefined) throw typeof failure === 'string' ? new LcowError(failure, 'injected createVm failure', { vmId: spec.id }) : failure;
    if (this.vms.some((v) => v.id === spec.id && v.state !== 'stopped')) {
      throw new LcowError('EEXIST', `a fake VM ${spec.id} already exists`, { vmId: spec.id });
    }
    checkSpec(spec, this.limits);
    const vm = new FakeVm(spec, this.disks, this);
    this.vms.push(vm);
    return vm;
  }

  async defaultBoot(): Promise<BootSpec> {
    return { kind: 'kernel-initrd', kernelPath: '/fake/vmlinuz', initrdPath: '/fake/initrd.img' };
  }

  /** The next createVm call rejects. */
  failNextCreate(error: Error | LcowErrorCode = 'EVMSTART'): void {
    this.createFailures.push(error);
  }

  /** The VM with this id (the latest, if ids were reused). */
  vm(id: string): FakeVm {
    const vm = this.vms.findLast((v) => v.id === id);
    if (!vm) throw new LcowError('ENOTFOUND', `no fake VM ${id}`, { vmId: id });
    return vm;
  }
}

/** What a real backend checks before it builds a VM: the spec within its limits. */
function checkSpec(spec: VmSpec, limits: BackendLimits): void {
  const within = (field: string, value: number, min: number, max: number) => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new LcowError('EINVAL', `VmSpec.${field} ${value} is not in ${min}..${max}`, { vmId: spec.id, field, value });
    }
  };
  within('scsiControllers', spec.scsiControllers, 1, limits.scsiControllers);
  within('vpmem.count', spec.vpmem.count, 0, limits.vpmemDevices);
  if (spec.vpmem.count > 0) within('vpmem.maxSizeBytes', spec.vpmem.maxSizeBytes, 1, limits.vpmemMaxSizeBytes);
}
