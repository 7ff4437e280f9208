/** HRESULT decoding, boot-file discovery, and VHDX creation parameters. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { discoverBootFiles, defaultKirdPath } from '../../../src/backend/hcs/boot-files.js';
import { hresultError, hresultHex, hresultName, win32FromHresult, win32Error, failed } from '../../../src/backend/hcs/hresult.js';
import { createVhdxParameters } from '../../../src/backend/hcs/vhdx.js';
import { resolveLibraryPaths, systemLibraryPaths } from '../../../src/backend/hcs/native/load.js';

describe('HRESULTs', () => {
  it('names HCS_E_* codes and decodes FACILITY_WIN32', () => {
    expect(hresultName(0x8037010e)).toBe('HCS_E_SYSTEM_NOT_FOUND');
    expect(hresultName(0x80370118 | 0)).toBe('HCS_E_OPERATION_TIMEOUT'); // negative int32 from koffi
    expect(hresultName(0x80070020)).toBe('HRESULT_FROM_WIN32(ERROR_SHARING_VIOLATION)');
    expect(win32FromHresult(0x80070057)).toBe(87);
    expect(win32FromHresult(0x8037010e)).toBeUndefined();
    expect(hresultHex(-2143878898)).toBe('0x8037010E');
    expect(hresultName(0x80123456)).toBeUndefined();
    expect([failed(0), failed(1), failed(-1), failed(0x80004005 | 0)]).toEqual([false, false, true, true]);
  });

  it('builds EHCS errors carrying hresult, name and win32 in context', () => {
    const e = hresultError(0x80070002 | 0, 'HcsModifyComputeSystem', { vmId: 'v' }, 'not json');
    expect(e.code).toBe('EHCS');
    expect(e.context).toEqual({
      vmId: 'v',
      operation: 'HcsModifyComputeSystem',
      hresult: '0x80070002',
      name: 'HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)',
      win32: 2,
      result: 'not json',
    });
    expect(win32Error(80, 'CreateVirtualDisk').context).toMatchObject({ win32: 80, name: 'ERROR_FILE_EXISTS' });
  });
});

describe('boot files (lcow.kirdpath)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const folder = (files: string[]): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kird-'));
    dirs.push(d);
    for (const f of files) fs.writeFileSync(path.join(d, f), 'x');
    return d;
  };

  it('defaults to %ProgramFiles%\\Linux Containers', () => {
    expect(defaultKirdPath({ ProgramFiles: 'D:\\Apps' })).toBe('D:\\Apps\\Linux Containers');
    expect(defaultKirdPath({})).toBe('C:\\Program Files\\Linux Containers');
  });

  it('prefers vmlinux over kernel, with initrd.img', async () => {
    const both = folder(['kernel', 'vmlinux', 'initrd.img']);
    expect(await discoverBootFiles(both)).toEqual({ kind: 'kernel-initrd', kernelPath: path.join(both, 'vmlinux'), initrdPath: path.join(both, 'initrd.img') });
    const plain = folder(['kernel', 'initrd.img']);
    expect(await discoverBootFiles(plain)).toMatchObject({ kernelPath: path.join(plain, 'kernel') });
  });

  it('takes explicit names (lcow.kernel / lcow.initrd) and reports a missing file as ENOTFOUND', async () => {
    const d = folder(['bzImage', 'rd.gz']);
    expect(await discoverBootFiles(d, { kernel: 'bzImage', initrd: 'rd.gz' })).toMatchObject({
      kernelPath: path.join(d, 'bzImage'),
      initrdPath: path.join(d, 'rd.gz'),
    });
    await expect(discoverBootFiles(d)).rejects.toMatchObject({ code: 'ENOTFOUND', context: { kirdpath: d } });
  });

  it('HcsBackend.defaultBoot uses the kirdpath folder', async () => {
    const { HcsBackend } = await import('../../../src/backend/hcs/index.js');
    const d = folder(['kernel', 'initrd.img']);
    expect(await new HcsBackend({ kirdPath: d }).defaultBoot()).toMatchObject({ kernelPath: path.join(d, 'kernel') });
  });
});

describe('virtdisk parameters and library paths', () => {
  it('CreateVirtualDisk v2 parameters as go-winio CreateVhdx builds them', () => {
    const p = createVhdxParameters(20, 1);
    expect(p.Version).toBe(2);
    expect(p.Version2.MaximumSize).toBe(20n << 30n);
    expect(p.Version2.BlockSizeInBytes).toBe(1 << 20);
    expect(p.Version2.ParentPath).toBeNull();
    expect(() => createVhdxParameters(0, 1)).toThrow(/sizeGB/);
  });

  it('System32 paths from %SystemRoot%; explicit paths win; nothing off Windows without them', () => {
    expect(systemLibraryPaths({ SystemRoot: 'D:\\Win' }).computecore).toBe('D:\\Win\\System32\\computecore.dll');
    expect(() => resolveLibraryPaths(undefined, 'linux')).toThrow(/HCS is not available on this platform/);
    expect(resolveLibraryPaths({ computecore: '/a.so', kernel32: '/a.so', virtdisk: '/a.so' }, 'linux').computecore).toBe('/a.so');
  });
});
