/** Test helper: drain readTarEntries (after decompress, as the converter does) into plain objects with the logical content hashed. */
import { createHash } from 'node:crypto';
import { decompress, readTarEntries, type ReadTarOptions, type TarEntry } from '../../src/tar/index.js';

export type Collected = Exclude<TarEntry, { kind: 'file' }> | (Omit<Extract<TarEntry, { kind: 'file' }>, 'body'> & { sha256: string; stored: number });

/** sha256 of the file as a reader would see it: holes read back as zeros. */
export async function logicalHash(
  size: number,
  sparse: Array<{ offset: number; length: number }> | undefined,
  body: AsyncIterable<Buffer>,
): Promise<{ sha256: string; stored: number }> {
  const h = createHash('sha256');
  let stored = 0;
  const zeros = Buffer.alloc(1 << 16);
  const hole = (n: number) => {
    for (; n > 0; n -= zeros.length) h.update(n >= zeros.length ? zeros : zeros.subarray(0, n));
  };
  const regions = sparse ?? [{ offset: 0, length: size }];
  let ri = 0;
  let leftInRegion = regions[0]?.length ?? 0;
  if (regions[0]) hole(regions[0].offset);
  for await (let chunk of body) {
    stored += chunk.length;
    while (chunk.length) {
      while (leftInRegion === 0) {
        const pos = regions[ri]!.offset + regions[ri]!.length;
        ri++;
        hole(regions[ri]!.offset - pos);
        leftInRegion = regions[ri]!.length;
      }
      const n = Math.min(leftInRegion, chunk.length);
      h.update(chunk.subarray(0, n));
      chunk = chunk.subarray(n);
      leftInRegion -= n;
    }
  }
  const last = regions[regions.length - 1];
  hole(size - (last ? last.offset + last.length : 0));
  return { sha256: h.digest('hex'), stored };
}

export async function collect(input: AsyncIterable<Buffer>, options: ReadTarOptions = {}): Promise<Collected[]> {
  const out: Collected[] = [];
  for await (const e of readTarEntries(decompress(input), options)) {
    if (e.kind === 'file') {
      const { body, ...rest } = e;
      out.push({ ...rest, ...(await logicalHash(e.size, e.sparse, body)) });
    } else out.push(e);
  }
  return out;
}

export async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
