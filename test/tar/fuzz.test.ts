/**
 * Property: whatever bytes arrive — a valid archive with random bytes
 * changed, blocks dropped or the stream cut short — the parser either yields
 * entries or rejects with an LcowError. Never a TypeError, RangeError, hang or
 * unhandled rejection. Headers are patched with a correct checksum half of
 * the time so that mutations get past the checksum into the field decoding.
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { fixChecksum, gnuSparseTar, pyTar, richMembers } from '../helpers/tar-fixtures.js';
import { chunked, collect } from './collect.js';

const dir = mkdtempSync(join(tmpdir(), 'lcow-tar-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function seeds(): Buffer[] {
  const out = [
    pyTar(join(dir, 'pax.tar'), 'pax', richMembers()),
    pyTar(
      join(dir, 'gnu.tar'),
      'gnu',
      richMembers().filter((m) => !m.pax),
    ),
  ];
  for (const f of ['gnu', '0.0', '0.1', '1.0'] as const) {
    const p = join(dir, `sparse-${f}.tar`);
    gnuSparseTar(p, f, [{ name: 's', size: 1 << 20, chunks: Array.from({ length: 30 }, (_, i) => ({ offset: i * 30000, length: 700 })) }]);
    out.push(readFileSync(p));
  }
  return out;
}

const mutation = fc.oneof(
  fc.record({ op: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('text' as const),
    at: fc.nat(),
    value: fc.constantFrom('7777777777777', '\x80\xff\xff\xff', '../', '/', '-1', '99999999999', '\0', 'S', 'L', 'K', 'x', 'g', '1', '2', '5'),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ op: fc.constant('dropBlock' as const), at: fc.nat(), value: fc.constant(0) }),
);

function apply(seed: Buffer, muts: Array<{ op: string; at: number; value: number | string }>, fix: boolean): Buffer {
  let buf = Buffer.from(seed);
  for (const m of muts) {
    if (buf.length === 0) break;
    const at = m.at % buf.length;
    if (m.op === 'byte') buf[at] = m.value as number;
    else if (m.op === 'text') buf.write(m.value as string, at, 'latin1');
    else if (m.op === 'truncate') buf = buf.subarray(0, at);
    else {
      const b = Math.floor(at / 512) * 512;
      buf = Buffer.concat([buf.subarray(0, b), buf.subarray(b + 512)]);
    }
    const block = Math.floor(Math.min(at, buf.length - 1) / 512) * 512;
    if (fix && block >= 0 && block + 512 <= buf.length) fixChecksum(buf, block);
  }
  return buf;
}

describe('tar parser fuzzing', () => {
  const inputs = seeds();
  it('mutated archives only ever yield entries or LcowError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: inputs.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 5000 }),
        async (i, muts, fix, chunk) => {
          const data = apply(inputs[i]!, muts, fix);
          try {
            await collect(chunked(data, chunk), { maxFileSizeBytes: 1 << 30 });
          } catch (e) {
            if (!(e instanceof LcowError)) throw e;
            expect(typeof e.code).toBe('string');
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
