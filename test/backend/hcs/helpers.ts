/** Small pieces the hcs tests share. */
import { expect } from 'vitest';
import { LcowError } from '../../../src/errors.js';
import type { VmSpec } from '../../../src/backend/types.js';
import { WINDOWS_BOOT, testVmSpec } from '../../helpers/vm-spec.js';

/** A VM spec with Windows-style boot paths (the stand-in never opens them). */
export function vmSpec(id: string): VmSpec {
  return testVmSpec({ id, memoryMiB: 1024, cpus: 2, boot: WINDOWS_BOOT, scsiControllers: 2, vpmem: { count: 8, maxSizeBytes: 4 * 1024 ** 3 } });
}

/** The LcowError a promise rejects with (failing the test if it resolves or rejects with anything else). */
export async function rejection(p: Promise<unknown>): Promise<LcowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LcowError);
  return err as LcowError;
}
