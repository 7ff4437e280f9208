/**
 * Property: random mutations and truncations of valid layer tars, run
 * through the whole converter, never crash the process or reject with
 * anything but an LcowError; never write outside the output directory; and
 * leave either exactly the output (which then passes e2fsck -fn) or nothing.
 */
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LcowError } from '../../src/errors.js';
import { convertTarToExt4 } from '../../src/layer/index.js';
import { e2fsck, fixChecksum, gnuSparseTar, pyTar, richMembers } from '../helpers/tar-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'lcow-convert-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function seeds(): Buffer[] {
  const rich = richMembers().filter((m) => m.name.length < 200);
  const out = [
    pyTar(join(root, 'pax.tar'), 'pax', rich),
    pyTar(
      join(root, 'gnu.tar'),
      'gnu',
      rich.filter((m) => !m.pax),
    ),
    pyTar(join(root, 'wh.tar'), 'pax', [
      { name: 'a/.wh..wh..opq', data: '' },
      { name: 'a/.wh.b', data: '' },
      { name: 'a', type: 'dir' },
      { name: 'a/c', data: 'c' },
    ]),
  ];
  const p = join(root, 'sparse.tar');
  gnuSparseTar(p, '1.0', [
    {
      name: 's',
      size: 1 << 20,
      chunks: [
        { offset: 0, length: 100 },
        { offset: 600_000, length: 5000 },
      ],
    },
  ]);
  out.push(readFileSync(p));
  return out;
}

const mutation = fc.oneof(
  fc.record({ op: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('text' as const),
    at: fc.nat(),
    value: fc.constantFrom('../', '/', '0000000', '77777777777', '\0', '1', '2', '5', 'S', 'x', 'L'),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  fc.record({ op: fc.constant('dupBlock' as const), at: fc.nat(), value: fc.constant(0) }),
);

function mutate(seed: Buffer, muts: Array<{ op: string; at: number; value: number | string }>, fix: boolean): Buffer {
  let buf = Buffer.from(seed);
  for (const m of muts) {
    if (buf.length === 0) break;
    const at = m.at % buf.length;
    const block = Math.floor(at / 512) * 512;
    if (m.op === 'byte') buf[at] = m.value as number;
    else if (m.op === 'text') buf.write(m.value as string, at, 'latin1');
    else if (m.op === 'truncate') buf = buf.subarray(0, at);
    else buf = Buffer.concat([buf.subarray(0, block + 512), buf.subarray(block)]);
    if (fix && block + 512 <= buf.length) fixChecksum(buf, block);
  }
  return buf;
}

describe('converter fuzzing', () => {
  const inputs = seeds();
  it('mutated tars give an e2fsck-clean image or an LcowError, and nothing else on disk', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: inputs.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        async (i, muts, fix, whiteouts) => {
          const parent = join(root, `run-${run++}`);
          const outDir = join(parent, 'out');
          mkdirSync(outDir, { recursive: true });
          const data = mutate(inputs[i]!, muts, fix);
          const chunks = Array.from({ length: Math.ceil(data.length / 1000) }, (_, k) => data.subarray(k * 1000, k * 1000 + 1000));
          const result = await convertTarToExt4(chunks, join(outDir, 'layer.vhd'), { whiteouts, maxDiskSizeBytes: 64 << 20 }).catch((e: unknown) => {
            if (!(e instanceof LcowError)) throw e;
            return undefined;
          });
          expect(readdirSync(parent)).toEqual(['out']);
          if (result) {
            expect(readdirSync(outDir)).toEqual(['layer.vhd']);
            const fsck = e2fsck(result.outPath);
            expect(fsck.output).toBe(fsck.status === 0 ? fsck.output : 'e2fsck clean');
          } else expect(readdirSync(outDir)).toEqual([]);
          rmSync(parent, { recursive: true, force: true });
        },
      ),
      { numRuns: 120 },
    );
  });
});
