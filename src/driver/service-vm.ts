/**
 * The driver's service VMs: UtilityVMs started on demand by the svm map.
 *
 * A service VM carries no scratch disk of its own (moby's had one): every
 * tool that moby ran in it (tar2vhd, vhd2tar, exportSandbox) runs on the
 * host here, and file operations stream through guest process stdin/stdout.
 */
import type { BootSpec, HypervisorBackend } from '../backend/index.js';
import { asError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServiceVmLifecycle } from '../svm/index.js';
import { GLOBAL_SVM_ID } from '../svm/index.js';
import { createUtilityVM, type UtilityVM } from '../uvm/index.js';

export interface ServiceVmConfig {
  backend(): Promise<HypervisorBackend>;
  boot(): Promise<BootSpec | undefined>;
  kernelArgs?: string;
  timeoutSeconds: number;
  memoryMiB: number;
  cpus: number;
  /** VPMEM devices of each service VM (absent: the UtilityVM default). */
  vpmem?: { count?: number; maxSizeBytes?: number };
  logger: Logger;
  /** Called for every VM created (tests count VM starts through it). */
  onCreate?(vmId: string): void;
}

export function serviceVmLifecycle(cfg: ServiceVmConfig): ServiceVmLifecycle<UtilityVM> {
  let serial = 0;
  return {
    async start(vmId: string): Promise<UtilityVM> {
      // Short, unique VM names: backends put them in socket paths. The layer id is in the logs.
      const name = vmId === GLOBAL_SVM_ID ? GLOBAL_SVM_ID : `${vmId.slice(0, 16)}_svm${++serial}`;
      const boot = await cfg.boot();
      cfg.onCreate?.(vmId);
      const uvm = await createUtilityVM({
        id: name,
        backend: await cfg.backend(),
        memoryMiB: cfg.memoryMiB,
        cpus: cfg.cpus,
        ...(cfg.vpmem ? { vpmem: cfg.vpmem } : {}),
        ...(boot ? { boot } : {}),
        ...(cfg.kernelArgs ? { kernelArgs: cfg.kernelArgs } : {}),
        operationTimeoutMs: cfg.timeoutSeconds * 1000,
        logger: cfg.logger.child({ svm: vmId }),
      });
      try {
        await uvm.start();
      } catch (err) {
        await uvm.terminate().catch((e: unknown) => cfg.logger.warn({ err: asError(e), vmId }, 'terminate after failed start'));
        throw err;
      }
      return uvm;
    },
    async stop(_vmId: string, uvm: UtilityVM): Promise<void> {
      await uvm.terminate();
    },
  };
}
