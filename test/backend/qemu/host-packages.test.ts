import { afterEach, describe, expect, it, vi } from 'vitest';
import { aptInstallLine, ensureHostPackages, missingPackages } from '../../../src/backend/qemu/host-packages.js';
import { isLcowError } from '../../../src/errors.js';

afterEach(() => vi.restoreAllMocks());

describe('host packages', () => {
  const fake = [
    { proof: '/bin/sh', name: 'dash' },
    { proof: '/nonexistent/prog-a', name: 'pkg-a' },
    { proof: '/nonexistent/prog-b', name: 'pkg-b' },
  ];

  it('lists what is missing, checking usr-merged paths too', () => {
    expect(missingPackages(fake)).toEqual(['pkg-a', 'pkg-b']);
  });

  it('without root: EHOSTDEPS carrying the exact command to run', async () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    const err = await ensureHostPackages(fake).catch((e: unknown) => e);
    expect(isLcowError(err, 'EHOSTDEPS')).toBe(true);
    expect((err as { context: Record<string, unknown> }).context).toMatchObject({
      packages: ['pkg-a', 'pkg-b'],
      command: 'apt-get update && apt-get install -y --no-install-recommends pkg-a pkg-b',
    });
    expect(aptInstallLine(['x'])).toBe('apt-get update && apt-get install -y --no-install-recommends x');
  });

  it('does nothing when everything is there', async () => {
    await expect(ensureHostPackages([fake[0]!])).resolves.toBeUndefined();
  });
});
