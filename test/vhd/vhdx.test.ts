import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../src/errors.js';
import type { SparseImage } from '../../src/vhd/index.js';
import { openBlockSource } from '../../src/vhd/open-block-source.js';
import { crc32c, sealChecksum } from '../../src/vhd/vhdx/crc32c.js';
import { guidToBytes, guidFromBytes, randomGuid } from '../../src/vhd/vhdx/guid.js';
import { openVhdx } from '../../src/vhd/vhdx/reader.js';
import { createVhdx } from '../../src/vhd/vhdx/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'vhdx-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;

function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

function expand(img: SparseImage): Buffer {
  const out = Buffer.alloc(img.size);
  for (const r of img.runs) r.data.copy(out, r.offset);
  return out;
}

/** Runs that straddle block boundaries, an all-zero run, a run in the last partial block. */
function sampleImage(): SparseImage {
  return {
    size: 40 * MiB + 8192,
    runs: [
      { offset: 0, data: randomBytes(4096) },
      { offset: MiB - 1000 - 96, data: randomBytes(2 * MiB + 5000 - 8) }, // spans 3 blocks
      { offset: 10 * MiB, data: Buffer.alloc(3 * MiB) }, // zeros: must not allocate
      { offset: 20 * MiB + 512, data: Buffer.from('hello') },
      { offset: 40 * MiB + 4096, data: randomBytes(4096) }, // the last, partial block
    ],
  };
}

describe('CRC-32C and GUIDs', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
  it('round-trips GUIDs in the Windows mixed-endian layout', () => {
    const b = guidToBytes('2DC27766-F623-4200-9D64-115E9BFD4A08');
    expect(b.toString('hex')).toBe('6677c22d23f600429d64115e9bfd4a08');
    const g = randomGuid();
    expect(guidFromBytes(guidToBytes(g))).toBe(g);
  });
});

describe('createVhdx', () => {
  it('writes a file qemu-img checks clean and converts back to the same bytes', async () => {
    const img = sampleImage();
    const path = join(dir, 'sample.vhdx');
    const res = await createVhdx(path, img);
    // blocks 0–3 (the first and the spanning run), 20 and 40; the zero run allocates nothing
    expect(res.allocatedBlocks).toBe(6);
    expect(statSync(path).size).toBe(res.fileSize);
    qemuImg('check', '-f', 'vhdx', path);
    const info = JSON.parse(qemuImg('info', '--output=json', '-f', 'vhdx', path)) as { 'virtual-size': number; format: string };
    expect(info['virtual-size']).toBe(img.size);
    const raw = join(dir, 'sample.raw');
    qemuImg('convert', '-f', 'vhdx', '-O', 'raw', path, raw);
    expect(readFileSync(raw).equals(expand(img))).toBe(true);
    // and our own reader agrees
    const v = await openVhdx(path);
    expect(v.size).toBe(img.size);
    expect((await v.read(0, img.size)).equals(expand(img))).toBe(true);
    expect((await v.read(MiB - 10, 20)).equals(expand(img).subarray(MiB - 10, MiB + 10))).toBe(true);
    await v.close();
    // no temporary left behind
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('keeps a 20 GB empty disk to a few MiB', async () => {
    const path = join(dir, 'big.vhdx');
    const size = 20 * 1024 ** 3;
    const img: SparseImage = {
      size,
      runs: [
        { offset: 1024, data: randomBytes(1024) },
        { offset: size - 4096, data: randomBytes(4096) },
      ],
    };
    const res = await createVhdx(path, img);
    expect(res.allocatedBlocks).toBe(2);
    expect(statSync(path).size).toBeLessThan(8 * MiB);
    qemuImg('check', '-f', 'vhdx', path);
    const v = await openVhdx(path);
    expect((await v.read(size - 4096, 4096)).equals(img.runs[1]!.data)).toBe(true);
    expect((await v.read(5 * MiB, 4096)).equals(Buffer.alloc(4096))).toBe(true);
    await v.close();
  });

  it('writes an empty disk from {size}', async () => {
    const path = join(dir, 'empty.vhdx');
    const res = await createVhdx(path, { size: 3 * MiB });
    expect(res.allocatedBlocks).toBe(0);
    qemuImg('check', '-f', 'vhdx', path);
  });

  it('rejects bad arguments with EINVAL and leaves no file', async () => {
    const path = join(dir, 'bad.vhdx');
    await expect(createVhdx(path, { size: 1000 })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(
      createVhdx(path, {
        size: MiB,
        runs: [
          { offset: 4096, data: Buffer.alloc(10) },
          { offset: 0, data: Buffer.alloc(10) },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'EINVAL',
    });
    expect(readdirSync(dir).filter((n) => n.startsWith('bad.vhdx'))).toEqual([]);
  });
});

describe('openVhdx', () => {
  it('reads a qemu-img-created VHDX byte for byte', async () => {
    const raw = Buffer.alloc(13 * MiB);
    randomBytes(3 * MiB).copy(raw, 0);
    randomBytes(100_000).copy(raw, 7 * MiB + 3);
    randomBytes(512).copy(raw, 13 * MiB - 512);
    const rawPath = join(dir, 'q.raw');
    writeFileSync(rawPath, raw);
    const path = join(dir, 'q.vhdx');
    qemuImg('convert', '-f', 'raw', '-O', 'vhdx', rawPath, path);
    const v = await openVhdx(path);
    expect(v.size).toBe(raw.length);
    expect((await v.read(0, raw.length)).equals(raw)).toBe(true);
    await v.close();
    const s = await openBlockSource(path);
    expect(s.kind).toBe('vhdx');
    expect((await s.read(7 * MiB, 200_000)).equals(raw.subarray(7 * MiB, 7 * MiB + 200_000))).toBe(true);
    await s.close();
  });

  it('reads what a QEMU writer left after guest writes (qemu-io)', async () => {
    const path = join(dir, 'io.vhdx');
    qemuImg('create', '-f', 'vhdx', path, '16M');
    execFileSync('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x5a 1M 3M', '-c', 'write -z 2M 4k', '-c', 'write -P 0x11 9M 512', path]);
    const rawPath = join(dir, 'io.raw');
    qemuImg('convert', '-f', 'vhdx', '-O', 'raw', path, rawPath);
    const v = await openVhdx(path);
    expect((await v.read(0, v.size)).equals(readFileSync(rawPath))).toBe(true);
    await v.close();
  });

  it('reads a file we wrote after QEMU wrote into it (blocks allocated through the QEMU log)', async () => {
    const path = join(dir, 'ours-then-qemu.vhdx');
    const img = sampleImage();
    await createVhdx(path, img);
    execFileSync('qemu-io', ['-f', 'vhdx', '-c', 'write -P 0x77 5M 2M', '-c', 'write -P 0x01 0 512', '-c', 'write -z 20M 1M', path]);
    qemuImg('check', '-f', 'vhdx', path);
    const rawPath = join(dir, 'ours-then-qemu.raw');
    qemuImg('convert', '-f', 'vhdx', '-O', 'raw', path, rawPath);
    const want = readFileSync(rawPath);
    expect(want.subarray(5 * MiB, 7 * MiB).every((b) => b === 0x77)).toBe(true);
    const v = await openVhdx(path);
    expect((await v.read(0, v.size)).equals(want)).toBe(true);
    await v.close();
  });

  it('reads ZERO, UNMAPPED and UNDEFINED blocks as zeros and a PARTIALLY_PRESENT block without a sector bitmap as data', async () => {
    const path = join(dir, 'states.vhdx');
    const img: SparseImage = { size: 8 * MiB, runs: [0, 1, 2, 3, 4].map((i) => ({ offset: i * MiB, data: randomBytes(MiB) })) };
    await createVhdx(path, img);
    const b = readFileSync(path);
    const bat = 3 * MiB; // the writer's BAT offset; block i's entry is at bat + 8 i (no sector-bitmap entry before 4096 blocks)
    const setState = (i: number, state: number): void => {
      b[bat + i * 8] = (b[bat + i * 8]! & ~7) | state;
    };
    setState(1, 2); // ZERO
    setState(2, 3); // UNMAPPED
    setState(3, 1); // UNDEFINED
    setState(4, 7); // PARTIALLY_PRESENT
    writeFileSync(path, b);
    const v = await openVhdx(path);
    const got = await v.read(0, v.size);
    expect(got.subarray(0, MiB).equals(img.runs[0]!.data)).toBe(true);
    expect(got.subarray(MiB, 4 * MiB).every((x) => x === 0)).toBe(true);
    expect(got.subarray(4 * MiB, 5 * MiB).equals(img.runs[4]!.data)).toBe(true);
    await v.close();
  });

  it('falls back to the other header when one CRC is bad, and rejects a file with both bad', async () => {
    const path = join(dir, 'crc.vhdx');
    await createVhdx(path, sampleImage());
    const b = readFileSync(path);
    b[64 * 1024 + 100]! ^= 0xff; // header 1 damaged
    writeFileSync(path, b);
    const v = await openVhdx(path);
    expect(v.info.header.sequenceNumber).toBe(1n);
    await v.close();
    b[128 * 1024 + 100]! ^= 0xff; // header 2 damaged too
    writeFileSync(path, b);
    const err = await openVhdx(path).catch((e: unknown) => e);
    expect(isLcowError(err, 'EBADIMAGE')).toBe(true);
  });

  it('rejects a file whose region tables both fail their CRC', async () => {
    const path = join(dir, 'regi.vhdx');
    await createVhdx(path, sampleImage());
    const b = readFileSync(path);
    b[192 * 1024 + 20]! ^= 1;
    b[256 * 1024 + 20]! ^= 1;
    writeFileSync(path, b);
    await expect(openVhdx(path)).rejects.toMatchObject({ code: 'EBADIMAGE' });
  });

  it('replays a pending log the way QEMU does', async () => {
    const path = join(dir, 'log.vhdx');
    const img = sampleImage();
    await createVhdx(path, img);
    const b = readFileSync(path);
    // Payload block 0 is the first block after the 1 MiB BAT, at 4 MiB.
    const payload = 4 * MiB;
    const patch = randomBytes(4096);
    const logGuid = randomGuid();
    const entry = Buffer.alloc(3 * 4096);
    entry.write('loge', 0, 'latin1');
    entry.writeUInt32LE(entry.length, 8);
    entry.writeUInt32LE(0, 12); // tail: this entry
    entry.writeBigUInt64LE(7n, 16);
    entry.writeUInt32LE(2, 24);
    guidToBytes(logGuid).copy(entry, 32);
    entry.writeBigUInt64LE(BigInt(b.length), 48);
    entry.writeBigUInt64LE(BigInt(b.length), 56);
    // descriptor 1: data for the payload's sector 1
    entry.write('desc', 64, 'latin1');
    patch.copy(entry, 64 + 4, 4092, 4096); // trailing bytes
    patch.copy(entry, 64 + 8, 0, 8); // leading bytes
    entry.writeBigUInt64LE(BigInt(payload + 4096), 64 + 16);
    entry.writeBigUInt64LE(7n, 64 + 24);
    // descriptor 2: zero the payload's sector 2
    entry.write('zero', 96, 'latin1');
    entry.writeBigUInt64LE(4096n, 96 + 8);
    entry.writeBigUInt64LE(BigInt(payload + 8192), 96 + 16);
    entry.writeBigUInt64LE(7n, 96 + 24);
    // the data sector
    entry.write('data', 4096, 'latin1');
    entry.writeUInt32LE(0, 4100);
    patch.copy(entry, 4096 + 8, 8, 4092);
    entry.writeUInt32LE(7, 4096 + 4092);
    sealChecksum(entry, 4);
    entry.copy(b, MiB);
    for (const at of [64 * 1024, 128 * 1024]) {
      guidToBytes(logGuid).copy(b, at + 48);
      sealChecksum(b.subarray(at, at + 4096), 4);
    }
    writeFileSync(path, b);

    const want = expand(img);
    patch.copy(want, 4096);
    want.fill(0, 8192, 12288);
    const v = await openVhdx(path);
    expect(v.info.replayedLogEntries).toBe(1);
    expect((await v.read(0, v.size)).equals(want)).toBe(true);
    await v.close();

    // QEMU replays the same log (check -r all writes it back) to the same bytes
    const copy = join(dir, 'log-qemu.vhdx');
    copyFileSync(path, copy);
    qemuImg('check', '-r', 'all', '-f', 'vhdx', copy);
    const rawPath = join(dir, 'log.raw');
    qemuImg('convert', '-f', 'vhdx', '-O', 'raw', copy, rawPath);
    expect(readFileSync(rawPath).equals(want)).toBe(true);
  });
});
