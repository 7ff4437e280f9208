/**
 * Every prototype in native-defs parses with koffi, and every struct has the
 * Win64 size and field offsets (koffi lays out structs the same on Linux
 * x64 and Win64; the numbers are those of the SDK headers). The C compiler's
 * layout of the same structs (in the stub library) is compared as well.
 */
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPUTECORE } from '../../../native-defs/computecore.js';
import { KERNEL32 } from '../../../native-defs/kernel32.js';
import { VIRTDISK } from '../../../native-defs/virtdisk.js';
import { WINSOCK, WS2_32 } from '../../../native-defs/ws2_32.js';
import { SOCKADDR_HV, sockaddrHv } from '../../../src/backend/hcs/hvsock/index.js';
import { ensureNativeTypes } from '../../../src/backend/hcs/native/types.js';
import { buildStubLibrary, type StubLibrary } from './stub-library.js';

ensureNativeTypes();
ensureNativeTypes(); // idempotent: a second registration would throw "Duplicate type name"

/** Parameters written in a C declaration: `f(void)` and `f()` have none. */
function declaredArity(decl: string): number {
  const params = decl.slice(decl.indexOf('(') + 1, decl.lastIndexOf(')')).trim();
  return params === '' || params === 'void' ? 0 : params.split(',').length;
}

const abs = (outer: string, arm: string, field: string): number => koffi.offsetof(outer, arm) + koffi.offsetof(koffi.type(outer).members![arm]!.type, field);

describe('native-defs prototypes', () => {
  const all = [...COMPUTECORE.functions, ...VIRTDISK.functions, ...KERNEL32.functions, ...WS2_32.functions];

  it.each(all.map((f) => [f.decl.match(/(\w+)\s*\(/)![1], f.decl]))('%s parses with every declared parameter', (_name, decl) => {
    const t = koffi.proto(decl);
    expect(koffi.type(t).proto?.arguments.length).toBe(declaredArity(decl));
  });

  it('declares the out-parameters as outputs (after the parse above registered the prototypes)', () => {
    const args = koffi.type('HcsCreateComputeSystem').proto!.arguments as unknown as { direction: string }[];
    expect(args.map((a) => a.direction)).toEqual(['Input', 'Input', 'Input', 'Input', 'Output']);
    const wait = koffi.type('HcsWaitForOperationResult').proto!.arguments as unknown as { direction: string }[];
    expect(wait.map((a) => a.direction)).toEqual(['Input', 'Input', 'Output']);
  });

  it('marks only the Server 2022+ exports optional', () => {
    expect(COMPUTECORE.functions.filter((f) => f.optional).map((f) => f.decl.match(/(\w+)\s*\(/)![1])).toEqual(['HcsWaitForComputeSystemExit']);
  });

  it('covers the computecore exports the backend needs', () => {
    const names = COMPUTECORE.functions.map((f) => f.decl.match(/(\w+)\s*\(/)![1]);
    for (const n of [
      'HcsCreateOperation',
      'HcsCloseOperation',
      'HcsWaitForOperationResult',
      'HcsSetOperationCallback',
      'HcsCancelOperation',
      'HcsCreateComputeSystem',
      'HcsOpenComputeSystem',
      'HcsCloseComputeSystem',
      'HcsStartComputeSystem',
      'HcsShutDownComputeSystem',
      'HcsTerminateComputeSystem',
      'HcsModifyComputeSystem',
      'HcsGetComputeSystemProperties',
      'HcsSetComputeSystemCallback',
      'HcsWaitForComputeSystemExit',
      'HcsGrantVmAccess',
      'HcsEnumerateComputeSystems',
    ])
      expect(names).toContain(n);
  });
});

describe('struct layouts (Win64)', () => {
  it('HCS_EVENT is 24 bytes: Type 0, EventData 8, Operation 16', () => {
    expect(koffi.sizeof('HCS_EVENT')).toBe(24);
    expect([koffi.offsetof('HCS_EVENT', 'Type'), koffi.offsetof('HCS_EVENT', 'EventData'), koffi.offsetof('HCS_EVENT', 'Operation')]).toEqual([0, 8, 16]);
  });

  it('GUID is 16 bytes, 4-aligned; VIRTUAL_STORAGE_TYPE is 20', () => {
    expect([koffi.sizeof('GUID'), koffi.alignof('GUID')]).toEqual([16, 4]);
    expect(koffi.sizeof('VIRTUAL_STORAGE_TYPE')).toBe(20);
    expect(koffi.offsetof('VIRTUAL_STORAGE_TYPE', 'VendorId')).toBe(4);
  });

  it('CREATE_VIRTUAL_DISK_PARAMETERS v2 is 128 bytes with the SDK offsets', () => {
    expect(koffi.sizeof('CREATE_VIRTUAL_DISK_PARAMETERS')).toBe(128);
    const expected: Record<string, number> = {
      UniqueId: 8,
      MaximumSize: 24,
      BlockSizeInBytes: 32,
      SectorSizeInBytes: 36,
      PhysicalSectorSizeInBytes: 40,
      ParentPath: 48,
      SourcePath: 56,
      OpenFlags: 64,
      ParentVirtualStorageType: 68,
      SourceVirtualStorageType: 88,
      ResiliencyGuid: 108,
    };
    for (const [field, offset] of Object.entries(expected)) expect([field, abs('CREATE_VIRTUAL_DISK_PARAMETERS', 'Version2', field)]).toEqual([field, offset]);
  });

  it('OPEN_VIRTUAL_DISK_PARAMETERS v2 is 28 bytes; ATTACH v2 is 24', () => {
    expect(koffi.sizeof('OPEN_VIRTUAL_DISK_PARAMETERS')).toBe(28);
    expect([
      abs('OPEN_VIRTUAL_DISK_PARAMETERS', 'Version2', 'GetInfoOnly'),
      abs('OPEN_VIRTUAL_DISK_PARAMETERS', 'Version2', 'ReadOnly'),
      abs('OPEN_VIRTUAL_DISK_PARAMETERS', 'Version2', 'ResiliencyGuid'),
    ]).toEqual([4, 8, 12]);
    expect(koffi.sizeof('ATTACH_VIRTUAL_DISK_PARAMETERS')).toBe(24);
    expect([
      abs('ATTACH_VIRTUAL_DISK_PARAMETERS', 'Version2', 'RestrictedOffset'),
      abs('ATTACH_VIRTUAL_DISK_PARAMETERS', 'Version2', 'RestrictedLength'),
    ]).toEqual([8, 16]);
  });

  it('HRESULT, DWORD and BOOL are 4 bytes (never long, which is 8 on Linux)', () => {
    expect(['HRESULT', 'DWORD', 'BOOL', 'ULONG'].map((t) => koffi.sizeof(t))).toEqual([4, 4, 4, 4]);
  });

  it('SOCKADDR_HV is 36 bytes: Family 0, Reserved 2, VmId 4, ServiceId 20 — the offsets sockaddrHv writes', () => {
    expect(koffi.sizeof('SOCKADDR_HV')).toBe(SOCKADDR_HV.size);
    expect(['Family', 'Reserved', 'VmId', 'ServiceId'].map((f) => koffi.offsetof('SOCKADDR_HV', f))).toEqual([
      SOCKADDR_HV.family,
      SOCKADDR_HV.reserved,
      SOCKADDR_HV.vmId,
      SOCKADDR_HV.serviceId,
    ]);
    expect([SOCKADDR_HV.size, SOCKADDR_HV.vmId, SOCKADDR_HV.serviceId]).toEqual([36, 4, 20]);
    // koffi decodes the bytes sockaddrHv makes into the GUIDs it was given.
    const decoded = koffi.decode(sockaddrHv('c0ffee01-5e1f-4c0d-9a7b-0123456789ab', '40000000-facb-11e6-bd58-64006a7986d3'), 'SOCKADDR_HV');
    expect(decoded).toEqual({
      Family: WINSOCK.AF_HYPERV,
      Reserved: 0,
      VmId: { Data1: 0xc0ffee01, Data2: 0x5e1f, Data3: 0x4c0d, Data4: Uint8Array.from([0x9a, 0x7b, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab]) },
      ServiceId: { Data1: 0x40000000, Data2: 0xfacb, Data3: 0x11e6, Data4: Uint8Array.from([0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3]) },
    });
  });

  it('WSAPOLLFD is 16 bytes (SOCKET 8, events 8, revents 10); WSADATA is 408 on Win64; SOCKET is pointer-sized', () => {
    expect(koffi.sizeof('SOCKET')).toBe(8);
    expect(koffi.sizeof('WSAPOLLFD')).toBe(16);
    expect([koffi.offsetof('WSAPOLLFD', 'events'), koffi.offsetof('WSAPOLLFD', 'revents')]).toEqual([8, 10]);
    expect(koffi.sizeof('WSADATA')).toBe(408);
    expect(koffi.offsetof('WSADATA', 'lpVendorInfo')).toBe(8);
  });

  it('Winsock constants are the SDK values', () => {
    expect(WINSOCK).toMatchObject({ AF_HYPERV: 34, SOCK_STREAM: 1, HV_PROTOCOL_RAW: 1, SD_SEND: 1, POLLRDNORM: 0x100, POLLWRNORM: 0x10 });
    expect(WINSOCK.FIONBIO >>> 0).toBe(0x8004667e);
    expect(WINSOCK.FIONBIO).toBeLessThan(0); // as the int32_t the declaration takes
  });
});

describe('koffi layout equals the C compiler layout', () => {
  let stub: StubLibrary;
  beforeAll(() => (stub = buildStubLibrary()));
  afterAll(() => stub.cleanup());

  it('for every struct the stub also declares', () => {
    expect(stub.layout('HCS_EVENT')).toBe(koffi.sizeof('HCS_EVENT'));
    expect(stub.layout('HCS_EVENT.Operation')).toBe(koffi.offsetof('HCS_EVENT', 'Operation'));
    expect(stub.layout('VIRTUAL_STORAGE_TYPE')).toBe(koffi.sizeof('VIRTUAL_STORAGE_TYPE'));
    expect(stub.layout('CREATE_VIRTUAL_DISK_PARAMETERS')).toBe(koffi.sizeof('CREATE_VIRTUAL_DISK_PARAMETERS'));
    expect(stub.layout('CREATE.ResiliencyGuid')).toBe(abs('CREATE_VIRTUAL_DISK_PARAMETERS', 'Version2', 'ResiliencyGuid'));
    expect(stub.layout('CREATE.SourcePath')).toBe(abs('CREATE_VIRTUAL_DISK_PARAMETERS', 'Version2', 'SourcePath'));
    const ws = stub.winsock;
    expect(ws.layout('SOCKADDR_HV')).toBe(koffi.sizeof('SOCKADDR_HV'));
    expect(ws.layout('SOCKADDR_HV.VmId')).toBe(koffi.offsetof('SOCKADDR_HV', 'VmId'));
    expect(ws.layout('SOCKADDR_HV.ServiceId')).toBe(koffi.offsetof('SOCKADDR_HV', 'ServiceId'));
    expect(ws.layout('WSAPOLLFD')).toBe(koffi.sizeof('WSAPOLLFD'));
    expect(ws.layout('WSAPOLLFD.events')).toBe(koffi.offsetof('WSAPOLLFD', 'events'));
    expect(ws.layout('WSAPOLLFD.revents')).toBe(koffi.offsetof('WSAPOLLFD', 'revents'));
    expect(ws.layout('WSADATA')).toBe(koffi.sizeof('WSADATA'));
    expect(ws.layout('WSADATA.lpVendorInfo')).toBe(koffi.offsetof('WSADATA', 'lpVendorInfo'));
  });
});
