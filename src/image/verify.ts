/**
 * A layer as the driver gets it: decompressed by its magic bytes and hashed
 * while it streams, its sha256 compared with the config's diff id.
 *
 * On a mismatch the consumer's stream errors (EBADIMAGE) *instead of
 * ending*, so a consumer that reads to EOF fails inside applyDiff and the
 * driver discards its temporary output. A consumer may stop at the tar
 * end-of-archive blocks before EOF; reading then goes on here for the hash,
 * and `verified` tells the importer, which removes the applied layer.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { drainedOrClosed } from '../drained.js';
import { LcowError, asError, isLcowError } from '../errors.js';
import { decompress } from '../tar/index.js';
import { badImage } from './bad-image.js';

export interface VerifiedStream {
  stream: Readable;
  /** Resolves when the whole layer was read and its sha256 equals the diff id; rejects with EBADIMAGE otherwise. */
  verified: Promise<void>;
  /** The verification error once known (set before the consumer's stream errors). */
  failure(): LcowError | undefined;
  /** Stop reading the source (verified then rejects). */
  abort(): void;
}

/** A zstd media type: its stream may begin with a skippable frame, which has no zstd magic. */
const ZSTD_MEDIA_TYPE = /\+zstd$|\.zstd$/;

/** Read failures keep their type when they have one; anything else means the layer is damaged. */
function readFailure(err: unknown, diffId: string, ctx: Record<string, unknown>): LcowError {
  if (isLcowError(err, 'EBADIMAGE', 'EUNSUPPORTED', 'EIO')) return err;
  return badImage(`layer ${diffId} could not be read or decompressed: ${asError(err).message}`, ctx, err);
}

/**
 * The decompressed layer with its first chunk already read, so that a
 * layer this host cannot decode (zstd without a decoder: EUNSUPPORTED) or a
 * stream damaged from its first bytes fails here, before the driver starts.
 */
async function decompressed(raw: Readable, mediaType: string, diffId: string, ctx: Record<string, unknown>): Promise<Readable> {
  const chunks = decompress(raw, { assume: ZSTD_MEDIA_TYPE.test(mediaType) ? 'zstd' : undefined });
  let first: IteratorResult<Buffer>;
  try {
    first = await chunks.next();
  } catch (err) {
    raw.destroy();
    throw readFailure(err, diffId, ctx);
  }
  return Readable.from(
    (async function* () {
      if (!first.done) yield first.value;
      yield* chunks;
    })(),
    { objectMode: false },
  );
}

export async function openVerified(raw: Readable, diffId: string, mediaType: string, ctx: Record<string, unknown>): Promise<VerifiedStream> {
  const source = await decompressed(raw, mediaType, diffId, ctx);
  const out = new PassThrough();
  const expected = diffId.replace(/^sha256:/, '');
  // Set before the consumer's stream errors, so importImage can tell bad content from a driver failure.
  let failure: LcowError | undefined;
  const fail = (e: LcowError): never => {
    failure = e;
    out.destroy(e);
    throw e;
  };
  const verified = (async () => {
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.destroyed && !out.writableEnded && !out.write(chunk)) await drainedOrClosed(out);
      }
    } catch (err) {
      fail(readFailure(err, diffId, ctx));
    }
    const actual = hash.digest('hex');
    if (!diffId.startsWith('sha256:') || actual !== expected) {
      fail(
        badImage(`layer content does not match its diff id: got sha256:${actual}, expected ${diffId}`, { ...ctx, diffId, actual: `sha256:${actual}`, bytes }),
      );
    }
    out.end();
  })();
  verified.catch(() => {}); // observed by importImage; the stream itself carries the error to other consumers
  return {
    stream: out,
    verified,
    failure: () => failure,
    abort: () => source.destroy(new LcowError('EIO', 'layer read aborted', ctx)),
  };
}
