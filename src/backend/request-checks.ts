/**
 * Argument checks shared by the request builders of HCS (its documents) and
 * of the GCS bridge: a bad number is an EINVAL naming the field, before any
 * request leaves the process. Slots are checked against the LCOW hardware,
 * which is what both speak of.
 */
import { LcowError } from '../errors.js';
import { LCOW_LIMITS } from './contract.js';

export function requireInteger(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new LcowError('EINVAL', `${field} must be an integer in [${min}, ${max}], got ${value}`, { field, value });
  }
  return value;
}

export function requireScsiSlot(controller: number, lun: number): void {
  requireInteger('controller', controller, 0, LCOW_LIMITS.scsiControllers - 1);
  requireInteger('lun', lun, 0, LCOW_LIMITS.lunsPerController - 1);
}

export function requireVpmemSlot(slot: number): void {
  requireInteger('slot', slot, 0, LCOW_LIMITS.vpmemDevices - 1);
}

export function requireNonEmpty(field: string, value: string): string {
  if (value.length === 0 || value.includes('\0')) {
    throw new LcowError('EINVAL', `${field} must be a non-empty string without NUL`, { field });
  }
  return value;
}
