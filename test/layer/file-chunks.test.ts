import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLcowError } from '../../src/errors.js';
import { readFileChunks } from '../../src/layer/index.js';
import { takeHashableBuffers, releaseHashableBuffers } from '../../src/digest/index.js';

const dir = mkdtempSync(join(tmpdir(), 'file-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, size: number): { path: string; data: Buffer } {
  const data = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, data };
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('readFileChunks', () => {
  it("reads into the content digest's WebAssembly memory while it has room, and gives the room back", async () => {
    const path = join(dir, 'arena.bin');
    const data = randomBytes(3 * 512 * 1024 + 100);
    writeFileSync(path, data);
    // Three reads ahead: a ring of five slots (the consumer's three, plus two more in flight).
    const first = readFileChunks(path, { readAhead: 3 })[Symbol.asyncIterator]();
    const second = readFileChunks(path, { readAhead: 3 })[Symbol.asyncIterator]();
    const a = (await first.next()).value as Buffer;
    const b = (await second.next()).value as Buffer;
    // Eight slots: the first ring (five) fits, the second reader falls back to ordinary buffers.
    expect(a.buffer).not.toBe(b.buffer);
    expect(a.byteLength).toBe(512 * 1024);
    expect(Buffer.compare(a, data.subarray(0, a.length))).toBe(0);
    expect(Buffer.compare(b, data.subarray(0, b.length))).toBe(0);
    const inMemory = a.buffer.byteLength > 4 * 1024 * 1024 ? a : b;
    expect(takeHashableBuffers(4, 512 * 1024)).toBeUndefined(); // three slots left
    await first.return?.(undefined);
    await second.return?.(undefined);
    const again = takeHashableBuffers(8, 512 * 1024);
    expect(again?.[0]?.buffer).toBe(inMemory.buffer); // all eight back
    releaseHashableBuffers(again!);
  });

  it('gives the file in order, whatever the read-ahead depth and the size', async () => {
    for (const size of [0, 1, 4096, 4096 * 7 + 3, 4096 * 20]) {
      const { path, data } = file(`f${size}`, size);
      for (const readAhead of [1, 2, 4, 9]) {
        const parts: Buffer[] = [];
        for await (const chunk of readFileChunks(path, { chunkSize: 4096, readAhead })) parts.push(Buffer.from(chunk));
        expect(Buffer.concat(parts).equals(data), `size ${size}, readAhead ${readAhead}`).toBe(true);
        expect(parts.slice(0, -1).every((p) => p.length === 4096)).toBe(true);
      }
    }
  });

  it('keeps a chunk intact while the consumer pulls ring - 2 more, with reads in flight', async () => {
    const { path, data } = file('contract', 4096 * 40);
    for (const readAhead of [1, 3, 6]) {
      const ring = 4;
      const held: { chunk: Buffer; at: number }[] = [];
      let at = 0;
      for await (const chunk of readFileChunks(path, { chunkSize: 4096, ring, readAhead })) {
        held.push({ chunk, at });
        at += chunk.length;
        // The chunk pulled ring - 2 pulls ago must still hold its bytes.
        const old = held.length > ring - 2 ? held[held.length - 1 - (ring - 2)]! : undefined;
        if (old) expect(old.chunk.equals(data.subarray(old.at, old.at + old.chunk.length)), `readAhead ${readAhead}`).toBe(true);
        // Give the reads in flight time to land in their buffers.
        await new Promise((r) => setImmediate(r));
      }
    }
  });

  it('closes the file when the consumer stops early, with reads still in flight', async () => {
    const { path } = file('early', 4096 * 50);
    const before = openFds();
    for await (const chunk of readFileChunks(path, { chunkSize: 4096, readAhead: 8 })) {
      expect(chunk.length).toBe(4096);
      break;
    }
    expect(openFds()).toBe(before);
  });

  it('reads a named pipe in order (no offsets there), through reused buffers with the same contract', async () => {
    const { path: source, data } = file('piped', 4096 * 30 + 11);
    const fifo = join(dir, 'fifo');
    await new Promise<void>((res, rej) => spawn('mkfifo', [fifo]).on('exit', (c) => (c === 0 ? res() : rej(new Error(`mkfifo ${c}`)))));
    const feeder = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fifo]);
    const fed = new Promise((r) => feeder.on('exit', r));
    const ring = 4;
    const held: { chunk: Buffer; at: number }[] = [];
    const copies: Buffer[] = [];
    let at = 0;
    for await (const chunk of readFileChunks(fifo, { chunkSize: 4096, ring })) {
      held.push({ chunk, at });
      copies.push(Buffer.from(chunk));
      at += chunk.length;
      const old = held.length > ring - 2 ? held[held.length - 1 - (ring - 2)]! : undefined;
      if (old) expect(old.chunk.equals(data.subarray(old.at, old.at + old.chunk.length))).toBe(true);
    }
    expect(Buffer.concat(copies).equals(data)).toBe(true);
    expect(await fed).toBe(0);
  });

  it('a file that grows while it is read gives the file as it was or as it became, never a gap', async () => {
    const { path, data } = file('growing', 4096 * 2 + 100);
    const more = randomBytes(4096 * 3);
    const parts: Buffer[] = [];
    for await (const chunk of readFileChunks(path, { chunkSize: 4096, readAhead: 4 })) {
      if (parts.length === 0) appendFileSync(path, more);
      parts.push(Buffer.from(chunk));
    }
    const got = Buffer.concat(parts);
    expect(got.equals(data) || got.equals(Buffer.concat([data, more]))).toBe(true);
  });

  it('a missing file is ENOTFOUND, an unreadable one EIO, both naming the path', async () => {
    const errOf = async (path: string): Promise<unknown> => {
      try {
        for await (const _ of readFileChunks(path)) void _;
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const missing = await errOf(join(dir, 'nope.tar'));
    expect(isLcowError(missing) && [missing.code, missing.context.path]).toEqual(['ENOTFOUND', join(dir, 'nope.tar')]);
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    const before = openFds();
    const isDir = await errOf(sub);
    expect(isLcowError(isDir) && [isDir.code, isDir.context.path, isDir.context.errno]).toEqual(['EIO', sub, 'EISDIR']);
    expect(openFds()).toBe(before);
  });
});
