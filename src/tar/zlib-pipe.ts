/**
 * Run a byte stream through one of Node's zlib decoders (gunzip, zstd),
 * turning the decoder's own failures (Z_DATA_ERROR, Z_BUF_ERROR on a
 * truncated stream, …) into EBADTAR. Input chunks must be the caller's to
 * give away: zlib may hold several at once.
 */
import { Readable } from 'node:stream';
import { LcowError } from '../errors.js';

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
