import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../src/errors.js';
import { tryLockFile } from '../src/file-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'file-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tryLockFile', () => {
  it('one holder at a time, even within one process; free again once released', async () => {
    const file = join(dir, 'a.lock');
    const first = await tryLockFile(file);
    expect(first).not.toBe('busy');
    expect(await tryLockFile(file)).toBe('busy');
    if (first === 'busy') return;
    await first.release();
    await first.release(); // idempotent
    const again = await tryLockFile(file);
    expect(again).not.toBe('busy');
    if (again !== 'busy') await again.release();
    expect(existsSync(file)).toBe(true); // kept unless asked
  });

  it('release({ unlink: true }) removes the file while still holding it; the next taker makes a new one', async () => {
    const file = join(dir, 'b.lock');
    const held = await tryLockFile(file);
    if (held === 'busy') throw new Error('busy');
    await held.release({ unlink: true });
    expect(existsSync(file)).toBe(false);
    const next = await tryLockFile(file);
    expect(next).not.toBe('busy');
    if (next !== 'busy') await next.release({ unlink: true });
  });

  it('a path that cannot be a lock file is a typed error naming it', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    const err = await tryLockFile(sub, 'test lock').catch((e: unknown) => e);
    expect(isLcowError(err) && [err.code, err.context.file]).toEqual(['EIO', sub]);
    expect(isLcowError(err) && err.message).toMatch(/^cannot open the test lock /);
  });
});
