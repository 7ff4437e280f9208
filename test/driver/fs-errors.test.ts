// Every file-system failure reaches the caller typed. On a small tmpfs (when
// this runs as root and may mount one): a full disk during sandbox and
// template creation is EIO with errno ENOSPC, leaves nothing behind, and the
// driver works again once there is room. Without root, the same mapping is
// checked on injected errors. And layer ids are checked in UTF-8 bytes with
// every suffix the driver adds, so no derived name is ENAMETOOLONG.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBackend } from '../../src/backend/fake/index.js';
import { LcowDriver, MAX_LAYER_ID_BYTES } from '../../src/driver/index.js';
import { typedFs } from '../../src/driver/typed-fs.js';
import { LcowError, hostFsError } from '../../src/errors.js';
import { layerTar } from './helpers/layers.js';

function systemError(code: string, syscall = 'write'): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall, errno: -28 });
}

describe('typed file-system errors (injected)', () => {
  it('hostFsError and typedFs: ENOENT → ENOTFOUND, the rest EIO with errno; typed and non-system errors pass as they are', async () => {
    expect(hostFsError(systemError('ENOSPC'), 'write x', { file: 'x' })).toMatchObject({ code: 'EIO', context: { file: 'x', errno: 'ENOSPC' } });
    expect(hostFsError(systemError('ENOENT', 'open'), 'open x')).toMatchObject({ code: 'ENOTFOUND', context: { errno: 'ENOENT' } });
    const typed = new LcowError('EBUSY', 'busy');
    expect(hostFsError(typed, 'x')).toBe(typed);
    await expect(typedFs('createReadWrite', { id: 'c' }, () => Promise.reject(systemError('ENOSPC')))).rejects.toMatchObject({
      code: 'EIO',
      context: { verb: 'createReadWrite', id: 'c', errno: 'ENOSPC' },
    });
    await expect(typedFs('remove', { id: 'c' }, () => Promise.reject(systemError('EROFS', 'rmdir')))).rejects.toMatchObject({ context: { errno: 'EROFS' } });
    const plain = new RangeError('not a system error');
    await expect(typedFs('x', {}, () => Promise.reject(plain))).rejects.toBe(plain);
  });
});

/** A tmpfs of `size` at `dir`, when this process may mount one (root in a privileged enough place). */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const base = mkdtempSync(path.join(tmpdir(), 'lcow-full-'));
const disk = path.join(base, 'disk');
mkdirSync(disk);
const mounted = process.getuid?.() === 0 && mountTmpfs(disk, '1m');
afterAll(() => {
  if (mounted) execFileSync('umount', [disk]);
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!mounted)('a full disk (a small tmpfs)', () => {
  const root = path.join(disk, 'root');
  let d: LcowDriver;
  beforeAll(async () => {
    d = await LcowDriver.open(root, { backend: new FakeBackend() });
  });
  afterAll(async () => d?.cleanup());
  /** Layers and half-made files: a root's entries but the cache, and the cache's temp files. */
  const leftovers = () => [...readdirSync(root).filter((n) => n !== 'cache'), ...readdirSync(path.join(root, 'cache')).filter((n) => n.includes('.tmp-'))];
  const template = () => readdirSync(path.join(root, 'cache')).includes('sandbox-20gb.vhdx');

  it('template creation: EIO with errno ENOSPC, nothing left behind; works once there is room', async () => {
    // the 20 GB template holds MiBs of metadata: it cannot fit in 1 MiB
    await expect(d.createReadWrite('c1')).rejects.toMatchObject({ code: 'EIO', context: { errno: 'ENOSPC' } });
    expect(leftovers()).toEqual([]);
    expect(template()).toBe(false);
    // a sandbox of another size is made directly, not from the template: the same
    await expect(d.createReadWrite('c2', '', { sizeGB: 30 })).rejects.toMatchObject({ code: 'EIO', context: { errno: 'ENOSPC' } });
    expect(leftovers()).toEqual([]);
    execFileSync('mount', ['-o', 'remount,size=64m', disk]);
    await d.createReadWrite('c1');
    expect(await d.exists('c1')).toBe(true);
    expect(template()).toBe(true);
  });

  it('a sandbox copied from the template onto a full disk: EIO with errno ENOSPC, nothing left behind', async () => {
    // fill what is left; the template exists now, so only the copy needs room
    const filler = path.join(disk, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(64 << 20));
    } catch {
      // ENOSPC: the disk is as full as it gets
    }
    await expect(d.createReadWrite('c3')).rejects.toMatchObject({ code: 'EIO', context: { errno: 'ENOSPC' } });
    await expect(d.applyDiff('l1', '', layerTar([{ name: 'big', data: Buffer.alloc(2 << 20, 1) }]))).rejects.toBeInstanceOf(LcowError);
    expect(leftovers()).toEqual(['c1']);
    rmSync(filler);
    await d.createReadWrite('c3');
    expect(leftovers().sort()).toEqual(['c1', 'c3']);
  });
});

describe('layer ids are checked in UTF-8 bytes, with the suffixes the driver adds', () => {
  const root = path.join(base, 'ids');
  let d: LcowDriver;
  beforeAll(async () => {
    d = await LcowDriver.open(root, { backend: new FakeBackend() });
  });
  afterAll(async () => d?.cleanup());

  it('an id at the limit works through every verb that names a file after it; one byte more is EINVAL', async () => {
    expect(MAX_LAYER_ID_BYTES).toBe(255 - '-applying-'.length - 10 - 1 - 8);
    // 'é' is two bytes, '𝄞' four: the limit is in bytes, not characters
    const atLimit = 'é'.repeat((MAX_LAYER_ID_BYTES - 4) / 2) + '𝄞';
    expect(Buffer.byteLength(atLimit)).toBe(MAX_LAYER_ID_BYTES);
    await d.applyDiff(atLimit, '', layerTar([{ name: 'f', data: 'x' }]));
    await d.createReadWrite(`${atLimit.slice(0, -2)}ab`, atLimit);
    expect(await d.changes(`${atLimit.slice(0, -2)}ab`, atLimit)).toEqual([]);
    await d.remove(`${atLimit.slice(0, -2)}ab`);
    await d.remove(atLimit);
    for (const bad of [atLimit + 'x', 'é'.repeat(200), '\uD800x', 'x\uDC00']) {
      await expect(d.create(bad)).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(d.applyDiff(bad, '', layerTar([]))).rejects.toMatchObject({ code: 'EINVAL' });
    }
    expect(readdirSync(root)).toEqual(['cache']);
  });
});
