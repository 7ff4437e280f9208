/**
 * The bridge to the host-side sandbox writer (sandbox.ts): an empty ext4 in a
 * dynamic VHDX of the requested size, written without a VM.
 */
import { LcowError } from '../errors.js';

type CreateSandbox = (dest: string, options: { sizeGB: number }) => Promise<unknown>;

// A variable specifier: sandbox.ts is another engineer's file and may not be in this build yet.
const SANDBOX_MODULE = './sandbox.js';

export async function createSandboxFile(dest: string, sizeGB: number): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(SANDBOX_MODULE)) as Record<string, unknown>;
  } catch (err) {
    throw new LcowError('EUNSUPPORTED', 'the host-side sandbox writer (driver/sandbox.ts) is not available', { dest, sizeGB }, { cause: err });
  }
  const create = mod.createSandbox as CreateSandbox | undefined;
  if (typeof create !== 'function') throw new LcowError('EUNSUPPORTED', 'driver/sandbox.ts exports no createSandbox', { dest, sizeGB });
  await create(dest, { sizeGB });
}
