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

  it('under the entry lock: a failed create leaves nothing behind and frees the lock (no re-entry, moby#36113)', async () => {
    const entry = new ServiceVmEntry<string, string>('vm');
    await entry.runExclusive(() => entry.unionMounts.acquire('/shared', async () => 'shared'));
    const attempt = entry.runExclusive(() => entry.unionMounts.acquire('/b', async () => Promise.reject(new Error('mount failed'))));
    await expect(attempt).rejects.toThrow('mount failed');
    expect(entry.unionMounts.keys()).toEqual(['/shared']);
    expect(entry.unionMounts.refCount('/shared')).toBe(1);
    expect(entry.lock.isLocked()).toBe(false);
  });
});
