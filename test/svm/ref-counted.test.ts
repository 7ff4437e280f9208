import { describe, expect, it } from 'vitest';
import { RefCountedResources, ServiceVmEntry } from '../../src/svm/index.js';

describe('RefCountedResources', () => {
  it('creates once, destroys on the last release, ignores unknown keys', async () => {
    const r = new RefCountedResources<string>();
    let created = 0;
    const destroyed: string[] = [];
    const make = async () => `h${++created}`;
    const destroy = async (h: string) => void destroyed.push(h);
    expect(await r.acquire('/a', make)).toBe('h1');
    expect(await r.acquire('/a', make)).toBe('h1');
    expect(r.refCount('/a')).toBe(2);
    await r.release('/a', destroy);
    expect(destroyed).toEqual([]);
    await r.release('/a', destroy);
    expect(destroyed).toEqual(['h1']);
    await r.release('/a', destroy); // unknown now: no-op
    await r.release('/never', destroy);
    expect(r.size).toBe(0);
  });

  it('a failed create records nothing', async () => {
    const r = new RefCountedResources<string>();
    await expect(r.acquire('/a', async () => Promise.reject(new Error('attach failed')))).rejects.toThrow('attach failed');
    expect(r.size).toBe(0);
  });

  it('a failed destroy still drops the slot and reports the error', async () => {
    const r = new RefCountedResources<string>();
    await r.acquire('/a', async () => 'h');
    await expect(r.release('/a', async () => Promise.reject(new Error('detach failed')))).rejects.toThrow('detach failed');
    expect(r.size).toBe(0);
  });

  it('acquireAll rolls back under the caller’s lock without deadlocking (moby#36113)', async () => {
    const entry = new ServiceVmEntry<string, string>('vm');
    const destroyed: string[] = [];
    // '/shared' is already held once: the rollback must only undo this call's count.
    await entry.disks.acquire('/shared', async () => 'shared');
    const rollbackErrors: string[] = [];
    const attempt = entry.runExclusive(() =>
      entry.disks.acquireAll(
        [
          { key: '/a', create: async () => 'a' },
          { key: '/shared', create: async () => 'never' },
          { key: '/b', create: async () => Promise.reject(new Error('no free slot')) },
        ],
        async (h) => void destroyed.push(h),
        (err, key) => rollbackErrors.push(`${key}:${err.message}`),
      ),
    );
    await expect(attempt).rejects.toThrow('no free slot');
    expect(destroyed).toEqual(['a']);
    expect(entry.disks.keys()).toEqual(['/shared']);
    expect(entry.disks.refCount('/shared')).toBe(1);
    expect(rollbackErrors).toEqual([]);
    expect(entry.lock.isLocked()).toBe(false);
  });
});
