/**
 * GUIDs in VHDX are stored the Windows way: Data1 (u32), Data2 (u16), Data3
 * (u16) little-endian, then Data4's 8 bytes as they are. The text form is the
 * usual `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
 */
import { randomBytes } from 'node:crypto';

export function guidToBytes(text: string): Buffer {
  const hex = text.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new TypeError(`not a GUID: ${text}`);
  const b = Buffer.from(hex, 'hex');
  // swap the first three fields from big-endian text order to little-endian
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}

export function guidFromBytes(buf: Buffer, at = 0): string {
  const b = buf.subarray(at, at + 16);
  const h = (x: Buffer): string => x.toString('hex');
  return [
    h(Buffer.from(b.subarray(0, 4)).reverse()),
    h(Buffer.from(b.subarray(4, 6)).reverse()),
    h(Buffer.from(b.subarray(6, 8)).reverse()),
    h(b.subarray(8, 10)),
    h(b.subarray(10, 16)),
  ]
    .join('-')
    .toUpperCase();
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** A random (version 4) GUID in text form. */
export function randomGuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40; // 16 random bytes: both in range
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`.toUpperCase();
}
