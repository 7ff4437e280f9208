/**
 * Run a byte stream through one of Node's zlib decoders (gunzip, zstd),
 * turning the decoder's own failures (Z_DATA_ERROR, Z_BUF_ERROR on a
 * truncated stream, …) into EBADTAR. Input chunks must be the caller's to
 * give away: zlib may hold several at once.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { LcowError } from '../errors.js';

let zlib: typeof import('node:zlib') | undefined;

/**
 * Node's zlib, loaded on first use: a plain tar never needs it, and loading
 * it at start-up cost every `lcow convert` ~2 ms and ~110 page faults.
 */
export function nodeZlib(): typeof import('node:zlib') {
  return (zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib'));
}

export async function* throughZlib(input: AsyncIterable<Buffer>, decoder: NodeJS.ReadWriteStream, compression: string): AsyncGenerator<Buffer> {
  const source = Readable.from(input, { objectMode: false });
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
