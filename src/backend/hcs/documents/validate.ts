/**
 * Argument checks shared by the document builders: a bad number is an
 * EINVAL naming the field, before any document reaches HCS.
 */
import { LcowError } from '../../../errors.js';
import { LUNS_PER_CONTROLLER, MAX_SCSI_CONTROLLERS, MAX_VPMEM_DEVICES } from './constants.js';

export function requireInteger(field: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new LcowError('EINVAL', `${field} must be an integer in [${min}, ${max}], got ${value}`, { field, value });
  }
  return value;
}

export function requireScsiSlot(controller: number, lun: number): void {
  requireInteger('controller', controller, 0, MAX_SCSI_CONTROLLERS - 1);
  requireInteger('lun', lun, 0, LUNS_PER_CONTROLLER - 1);
}

export function requireVpmemSlot(slot: number): void {
  requireInteger('slot', slot, 0, MAX_VPMEM_DEVICES - 1);
}

export function requireNonEmpty(field: string, value: string): string {
  if (value.length === 0 || value.includes('\0')) {
    throw new LcowError('EINVAL', `${field} must be a non-empty string without NUL`, { field });
  }
  return value;
}
