// The apt answer memo: asked once per apt state; a changed list or dpkg
// status (mtime), a different question, an unreadable memo or an unknown
// answer all mean asking apt again.
import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { aptStateKey, memoisedAptAnswer } from '../../../src/backend/qemu/image/apt-memo.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lcow-apt-memo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('memoisedAptAnswer', () => {
  it('asks apt once per state, again when the lists or the dpkg status move', async () => {
    const lists = path.join(dir, 'lists');
    const status = path.join(dir, 'status');
    mkdirSync(lists);
    writeFileSync(status, 'x');
    const memo = path.join(dir, 'cache', 'kernel-package.json');
    let asked = 0;
    const apt = async () => ({ name: 'linux-image-6.1.0-56-cloud-amd64', version: `v${++asked}` });
    const ask = async (question = 'linux-image-cloud-amd64') => memoisedAptAnswer(memo, question, await aptStateKey([lists, status]), apt);

    expect(await ask()).toEqual({ name: 'linux-image-6.1.0-56-cloud-amd64', version: 'v1' });
    expect(await ask()).toMatchObject({ version: 'v1' });
    expect(asked).toBe(1);

    utimesSync(lists, new Date(), new Date(Date.now() + 5_000)); // apt-get update
    expect(await ask()).toMatchObject({ version: 'v2' });
    utimesSync(status, new Date(), new Date(Date.now() + 10_000)); // a package installed
    expect(await ask()).toMatchObject({ version: 'v3' });
    expect(await ask('another-metapackage')).toMatchObject({ version: 'v4' });
    writeFileSync(memo, '{not json');
    expect(await ask()).toMatchObject({ version: 'v5' });
    expect(await ask()).toMatchObject({ version: 'v5' });
    expect(asked).toBe(5);
  });

  it('never remembers "apt did not know", and a missing state file is part of the key', async () => {
    const memo = path.join(dir, 'unknown.json');
    let asked = 0;
    const unknown = async () => {
      asked++;
      return undefined;
    };
    const key = await aptStateKey([path.join(dir, 'no-such-file')]);
    expect(key).toMatch(/no-such-file@$/);
    expect(await memoisedAptAnswer(memo, 'q', key, unknown)).toBeUndefined();
    expect(await memoisedAptAnswer(memo, 'q', key, unknown)).toBeUndefined();
    expect(asked).toBe(2);
  });
});
