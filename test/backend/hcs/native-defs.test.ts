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
  const all = [...COMPUTECORE.functions, ...VIRTDISK.functions, ...KERNEL32.functions];

  it.each(all.map((f) => [f.decl.match(/(\w+)\s*\(/)![1], f.decl]))('%s parses with every declared parameter', (_name, decl) => {
    const t = koffi.proto(decl);
    expect(koffi.type(t).proto?.arguments.length).toBe(declaredArity(decl));
  });

  it('declares the out-parameters as outputs (after the parse above registered the prototypes)', () => {
    const args = koffi.type('HcsCreateComputeSystem').proto!.arguments as unknown as { direction: string }[];
    expect(args.map((a) => a.direction)).toEqual(['Input', 'Input', 'Input', 'Input', 'Output']);
    const wait = koffi.type('HcsWaitForOperationResultAndProcessInfo').proto!.arguments as unknown as { direction: string }[];
    expect(wait.map((a) => a.direction)).toEqual(['Input', 'Input', 'Output', 'Output']);
  });

  it('marks only the Server 2022+ exports optional', () => {
    expect(COMPUTECORE.functions.filter((f) => f.optional).map((f) => f.decl.match(/(\w+)\s*\(/)![1])).toEqual([
      'HcsWaitForComputeSystemExit',
      'HcsWaitForProcessExit',
    ]);
  });

  it('covers the computecore exports the backend needs', () => {
    const names = COMPUTECORE.functions.map((f) => f.decl.match(/(\w+)\s*\(/)![1]);
    for (const n of [
      'HcsCreateOperation',
      'HcsCloseOperation',
      'HcsWaitForOperationResult',
      'HcsWaitForOperationResultAndProcessInfo',
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
      'HcsCreateProcess',
      'HcsWaitForProcessExit',
      'HcsSignalProcess',
      'HcsTerminateProcess',
      'HcsCloseProcess',
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

  it('HCS_PROCESS_INFORMATION is 32 bytes', () => {
    expect(koffi.sizeof('HCS_PROCESS_INFORMATION')).toBe(32);
    const off = ['ProcessId', 'Reserved', 'StdInput', 'StdOutput', 'StdError'].map((f) => koffi.offsetof('HCS_PROCESS_INFORMATION', f));
    expect(off).toEqual([0, 4, 8, 16, 24]);
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
});

describe('koffi layout equals the C compiler layout', () => {
  let stub: StubLibrary;
  beforeAll(() => (stub = buildStubLibrary()));
  afterAll(() => stub.cleanup());

  it('for every struct the stub also declares', () => {
    expect(stub.layout('HCS_EVENT')).toBe(koffi.sizeof('HCS_EVENT'));
    expect(stub.layout('HCS_EVENT.Operation')).toBe(koffi.offsetof('HCS_EVENT', 'Operation'));
    expect(stub.layout('HCS_PROCESS_INFORMATION')).toBe(koffi.sizeof('HCS_PROCESS_INFORMATION'));
    expect(stub.layout('VIRTUAL_STORAGE_TYPE')).toBe(koffi.sizeof('VIRTUAL_STORAGE_TYPE'));
    expect(stub.layout('CREATE_VIRTUAL_DISK_PARAMETERS')).toBe(koffi.sizeof('CREATE_VIRTUAL_DISK_PARAMETERS'));
    expect(stub.layout('CREATE.ResiliencyGuid')).toBe(abs('CREATE_VIRTUAL_DISK_PARAMETERS', 'Version2', 'ResiliencyGuid'));
    expect(stub.layout('CREATE.SourcePath')).toBe(abs('CREATE_VIRTUAL_DISK_PARAMETERS', 'Version2', 'SourcePath'));
  });
});
