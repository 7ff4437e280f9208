import { describe, expect, it } from 'vitest';
import { isLcowError } from '../../src/errors.js';
import { DEFAULT_SANDBOX_SIZE_GB, DEFAULT_TIMEOUT_SECONDS, parseLcowOptions, parseSandboxSizeGB } from '../../src/driver/options.js';

const badOption = (entries: string[]): { option: unknown; value: unknown } => {
  try {
    parseLcowOptions(entries);
  } catch (err) {
    if (isLcowError(err, 'EBADOPTION')) return { option: err.context.option, value: err.context.value };
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(entries)}`);
};

describe('driver options', () => {
  it('defaults', () => {
    expect(parseLcowOptions([])).toEqual({ globalMode: false, sandboxSizeGB: DEFAULT_SANDBOX_SIZE_GB, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
  });

  it('every key', () => {
    const o = parseLcowOptions([
      'lcow.globalmode=true',
      'lcow.sandboxsize=30',
      'lcow.kirdpath=/opt/lcow',
      'lcow.kernel=vmlinuz',
      'lcow.initrd=initrd.img',
      'lcow.bootparameters=console=ttyS0 quiet',
      'lcow.vhdx=uvm.vhdx',
      'lcow.timeout=42',
    ]);
    expect(o).toEqual({
      globalMode: true,
      sandboxSizeGB: 30,
      kirdPath: '/opt/lcow',
      kernel: 'vmlinuz',
      initrd: 'initrd.img',
      bootParameters: 'console=ttyS0 quiet',
      vhdx: 'uvm.vhdx',
      timeoutSeconds: 42,
    });
  });

  it('keys are case-insensitive, split on the first =, last one wins', () => {
    const o = parseLcowOptions(['LCOW.GlobalMode=1', 'lcow.globalmode=F', 'lcow.bootparameters=a=b']);
    expect(o.globalMode).toBe(false);
    expect(o.bootParameters).toBe('a=b');
  });

  it('strconv.ParseBool spellings for globalmode', () => {
    for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) expect(parseLcowOptions([`lcow.globalmode=${v}`]).globalMode).toBe(true);
    for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) expect(parseLcowOptions([`lcow.globalmode=${v}`]).globalMode).toBe(false);
  });

  it('unknown keys are ignored and logged', () => {
    const warned: unknown[] = [];
    const logger = { warn: (o: unknown) => warned.push(o) } as unknown as Parameters<typeof parseLcowOptions>[1];
    expect(parseLcowOptions(['size=10G', 'lcow.nosuch=1', 'justaword'], logger)).toEqual(parseLcowOptions([]));
    expect(warned).toHaveLength(3);
  });

  it('timeout 0 means the default 300 (the reference meaning), not "no limit"', () => {
    expect(parseLcowOptions(['lcow.timeout=0']).timeoutSeconds).toBe(300);
  });

  it('sandbox size bounds', () => {
    expect(parseSandboxSizeGB('20')).toBe(20);
    expect(parseSandboxSizeGB('65536')).toBe(65536);
  });

  it.each([
    ['lcow.globalmode=yes', 'lcow.globalmode', 'yes'],
    ['lcow.globalmode=', 'lcow.globalmode', ''],
    ['lcow.globalmode', 'lcow.globalmode', undefined],
    ['lcow.sandboxsize=19', 'lcow.sandboxsize', '19'],
    ['lcow.sandboxsize=0', 'lcow.sandboxsize', '0'],
    ['lcow.sandboxsize=-30', 'lcow.sandboxsize', '-30'],
    ['lcow.sandboxsize=20.5', 'lcow.sandboxsize', '20.5'],
    ['lcow.sandboxsize=30GB', 'lcow.sandboxsize', '30GB'],
    ['lcow.sandboxsize=1e3', 'lcow.sandboxsize', '1e3'],
    ['lcow.sandboxsize= 30', 'lcow.sandboxsize', ' 30'],
    ['lcow.sandboxsize=65537', 'lcow.sandboxsize', '65537'],
    ['lcow.sandboxsize=99999999999999999999', 'lcow.sandboxsize', '99999999999999999999'],
    ['lcow.timeout=-1', 'lcow.timeout', '-1'],
    ['lcow.timeout=1.5', 'lcow.timeout', '1.5'],
    ['lcow.timeout=abc', 'lcow.timeout', 'abc'],
    ['lcow.timeout=', 'lcow.timeout', ''],
    ['lcow.kirdpath=', 'lcow.kirdpath', ''],
    ['lcow.kirdpath=  ', 'lcow.kirdpath', '  '],
    ['lcow.kernel=', 'lcow.kernel', ''],
    ['lcow.initrd=', 'lcow.initrd', ''],
    ['lcow.vhdx=', 'lcow.vhdx', ''],
    ['lcow.kernel=a\0b', 'lcow.kernel', 'a\0b'],
    ['lcow.bootparameters=quiet\ninit=/bin/sh', 'lcow.bootparameters', 'quiet\ninit=/bin/sh'],
  ])('%j → EBADOPTION naming the option and the value', (entry, option, value) => {
    expect(badOption([entry])).toEqual({ option, value });
  });

  it('the message names the option and the value too', () => {
    expect(() => parseLcowOptions(['lcow.sandboxsize=7'])).toThrow(/lcow\.sandboxsize.*|"7".*lcow\.sandboxsize/);
  });
});
