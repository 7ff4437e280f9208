/**
 * Run a byte stream through one of Node's zlib decoders (gunzip, zstd),
 * turning the decoder's own failures (Z_DATA_ERROR, Z_BUF_ERROR on a
 * truncated stream, …) into EBADTAR. Input chunks must be the caller's to
 * give away: zlib may hold several at once.
 */
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { LcowError } from '../errors.js';

/**
 * Node's zlib and streams, loaded on first use: a plain tar needs neither,
 * and loading them at start-up cost every `lcow convert` ~2 ms and ~110
 * page faults (zlib), and 2–3 ms more (node:stream, once nothing else of
 * the converter loaded it: issue 11, round 8).
 */
const loadBuiltin = createRequire(import.meta.url);
let zlib: typeof import('node:zlib') | undefined;

export function nodeZlib(): typeof import('node:zlib') {
  return (zlib ??= loadBuiltin('node:zlib') as typeof import('node:zlib'));
}

export async function* throughZlib(input: AsyncIterable<Buffer>, decoder: NodeJS.ReadWriteStream, compression: string): AsyncGenerator<Buffer> {
  const stream = loadBuiltin('node:stream') as typeof import('node:stream');
  const source = stream.Readable.from(input, { objectMode: false });
  const dec = decoder as unknown as Readable & NodeJS.WritableStream;
  source.on('error', (err) => dec.destroy(err));
  source.pipe(dec);
  try {
    for await (const chunk of dec as AsyncIterable<Buffer>) yield chunk;
  } catch (err) {
    if (err instanceof LcowError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && e.code.startsWith('Z_')) {
      throw new LcowError('EBADTAR', `corrupt ${compression} stream: ${e.message}`, { compression, zlibCode: e.code }, { cause: err });
    }
    throw err;
  } finally {
    source.destroy();
    dec.destroy();
  }
}
