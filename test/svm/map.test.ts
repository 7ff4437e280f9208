import { describe, expect, it } from 'vitest';
import { isLcowError } from '../../src/errors.js';
import { ServiceVmMap } from '../../src/svm/index.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isLcowError(err) ? err.code : 'not-an-LcowError';
  }
  return undefined;
};

describe('ServiceVmMap', () => {
  it('add: new, then existing with ref + 1', async () => {
    const map = new ServiceVmMap<string>();
    const a = await map.add('x');
    expect(a.isNew).toBe(true);
    const b = await map.add('x');
    expect(b.isNew).toBe(false);
    expect(b.entry).toBe(a.entry);
    expect(a.entry.refCount).toBe(2);
  });

  it('get / decrementRefCount / setRefCountZero: ENOTFOUND for unknown, EVMTERMINATING at ref 0', async () => {
    const map = new ServiceVmMap<string>();
    expect(code(() => map.get('nope'))).toBe('ENOTFOUND');
    expect(code(() => map.decrementRefCount('nope'))).toBe('ENOTFOUND');
    expect(code(() => map.setRefCountZero('nope'))).toBe('ENOTFOUND');
    await map.add('x');
    await map.add('x');
    expect(map.decrementRefCount('x').lastRef).toBe(false);
    expect(map.decrementRefCount('x').lastRef).toBe(true);
    expect(code(() => map.get('x'))).toBe('EVMTERMINATING');
    expect(code(() => map.decrementRefCount('x'))).toBe('EVMTERMINATING');
    expect(code(() => map.setRefCountZero('x'))).toBe('EVMTERMINATING');
  });

  it('delete: only at ref 0', async () => {
    const map = new ServiceVmMap<string>();
    expect(code(() => map.delete('x'))).toBe('ENOTFOUND');
    await map.add('x');
    expect(code(() => map.delete('x'))).toBe('EBUSY');
    map.setRefCountZero('x');
    map.delete('x');
    expect(map.size).toBe(0);
  });

  it('add on a terminating entry waits for its stop signal, then makes a new entry', async () => {
    const map = new ServiceVmMap<string>();
    const first = (await map.add('x')).entry;
    map.decrementRefCount('x');
    let settled = false;
    const second = map.add('x').then((r) => ((settled = true), r));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    map.delete('x');
    first.signalStopFinished();
    const r = await second;
    expect(r.isNew).toBe(true);
    expect(r.entry).not.toBe(first);
  });

  it('add on an entry whose stop failed reports EVMTERMINATING with the stop error as cause', async () => {
    const map = new ServiceVmMap<string>();
    const first = (await map.add('x')).entry;
    map.setRefCountZero('x');
    const pending = map.add('x');
    const stopErr = new Error('terminate failed');
    map.delete('x');
    first.signalStopFinished(stopErr);
    await expect(pending).rejects.toMatchObject({ code: 'EVMTERMINATING', cause: stopErr });
  });
});
