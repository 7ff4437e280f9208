/**
 * hvsocket addresses: a VM GUID (its RuntimeId) and a service GUID, laid out
 * as a SOCKADDR_HV for bind. A Linux guest reaches the host by vsock port;
 * Hyper-V maps port P to the service `P(8 hex digits)-facb-11e6-bd58-64006a7986d3`
 * (go-winio's VsockServiceID), which is what the host listens on.
 */
import { LcowError } from '../../../errors.js';
import { WINSOCK } from '../../../../native-defs/ws2_32.js';

const GUID = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

/** The service GUID a guest's vsock port maps to. */
export function vsockServiceId(port: number): string {
  if (!Number.isInteger(port) || port < 0 || port > 0xffffffff) throw new LcowError('EINVAL', `not a vsock port: ${port}`, { port });
  return `${port.toString(16).padStart(8, '0')}-facb-11e6-bd58-64006a7986d3`;
}

/** The canonical form (lower case, no braces) of a GUID string; EINVAL if it is none. */
export function normalizeGuid(guid: string): string {
  const m = GUID.exec(guid.trim());
  if (!m) throw new LcowError('EINVAL', `not a GUID: '${guid}'`, { guid });
  return m.slice(1).join('-').toLowerCase();
}

/** A GUID's 16 bytes in memory: Data1 u32, Data2 u16 and Data3 u16 little-endian, then Data4's 8 bytes in order. */
export function guidBytes(guid: string): Buffer {
  const hex = normalizeGuid(guid).replaceAll('-', '');
  const b = Buffer.alloc(16);
  b.writeUInt32LE(parseInt(hex.slice(0, 8), 16), 0);
  b.writeUInt16LE(parseInt(hex.slice(8, 12), 16), 4);
  b.writeUInt16LE(parseInt(hex.slice(12, 16), 16), 6);
  Buffer.from(hex.slice(16), 'hex').copy(b, 8);
  return b;
}

/** SOCKADDR_HV's size and offsets (hvsocket.h; the tests hold them against koffi's layout and the C compiler's). */
export const SOCKADDR_HV = { size: 36, family: 0, reserved: 2, vmId: 4, serviceId: 20 } as const;

/** The 36 bytes bind takes for (vmId, serviceId). */
export function sockaddrHv(vmId: string, serviceId: string): Buffer {
  const b = Buffer.alloc(SOCKADDR_HV.size);
  b.writeUInt16LE(WINSOCK.AF_HYPERV, SOCKADDR_HV.family);
  guidBytes(vmId).copy(b, SOCKADDR_HV.vmId);
  guidBytes(serviceId).copy(b, SOCKADDR_HV.serviceId);
  return b;
}
