/**
 * Which hypervisor the driver's service VMs run on: a backend object given by
 * the embedding engine, or a name for `selectBackend` ('auto' = HCS on
 * Windows, QEMU elsewhere). Resolved on first need — the verbs that work on
 * the host (create, applyDiff, diff …) never load a backend — then kept.
 */
import { selectBackend, type BackendChoice, type HypervisorBackend } from '../backend/index.js';

export type DriverBackend = HypervisorBackend | BackendChoice;

export async function resolveBackend(choice: DriverBackend = 'auto'): Promise<HypervisorBackend> {
  return typeof choice === 'object' ? choice : selectBackend(choice);
}
