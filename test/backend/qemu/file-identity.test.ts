// One identity for "is this still the file we saw?": unchanged → same, rewritten or replaced → different, missing → ''.
import { rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileIdentity } from '../../../src/backend/qemu/file-identity.js';
import { tempDir } from '../../helpers/vm.js';

const { dir, cleanup } = await tempDir();
afterAll(cleanup);

describe('fileIdentity', () => {
  it('stays for an unchanged file and changes when it is rewritten or replaced', async () => {
    const f = path.join(dir, 'f');
    await writeFile(f, 'one');
    const first = await fileIdentity(f);
    expect(first).not.toBe('');
    expect(await fileIdentity(f)).toBe(first);
    // same size, only the mtime moves
    await writeFile(f, 'two');
    await utimes(f, new Date(), new Date(Date.now() + 5000));
    const rewritten = await fileIdentity(f);
    expect(rewritten).not.toBe(first);
    // same content and times, another inode
    const g = path.join(dir, 'g');
    await writeFile(g, 'two');
    await utimes(g, new Date(), new Date(Date.now() + 5000));
    await rename(g, f);
    expect(await fileIdentity(f)).not.toBe(rewritten);
  });

  it('without the device when asked (what is kept across reboots): inode, size and mtime', async () => {
    const f = path.join(dir, 'h');
    await writeFile(f, 'three');
    const [withDevice, without] = await Promise.all([fileIdentity(f), fileIdentity(f, { device: false })]);
    expect(withDevice.endsWith(`:${without}`)).toBe(true);
    expect(without.split(':')).toHaveLength(3);
  });

  it("is '' for a file that is not there", async () => {
    expect(await fileIdentity(path.join(dir, 'missing'))).toBe('');
  });
});
