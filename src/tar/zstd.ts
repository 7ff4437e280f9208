/**
 * zstd decompression for layers (OCI `tar+zstd`): Node's own zlib when it
 * has zstd (≥ 22.15 / 23.8), otherwise the `zstd` program (Debian package
 * zstd) as a child process — Node 20, this project's floor, has no zstd at
 * all. Both end the same way: the tar bytes, or an EBADTAR for a corrupt or
 * truncated stream; and with neither available, an EUNSUPPORTED that says
 * what to install.
 */
import { drainedOrClosed } from '../drained.js';
import { findProgram } from '../find-program.js';
import { LcowError, asError } from '../errors.js';
import { nodeZlib, throughZlib } from './zlib-pipe.js';

type ZlibZstd = () => NodeJS.ReadWriteStream;

/** Node's zlib zstd decoder, when this Node has one. */
function zlibZstd(): ZlibZstd | undefined {
  // Typed lookup so that Node 20's typings compile.
  const zlib = nodeZlib();
  const f = (zlib as unknown as { createZstdDecompress?: ZlibZstd }).createZstdDecompress;
  return typeof f === 'function' ? f.bind(zlib) : undefined;
}

/** The zstd program on PATH (override with LCOW_ZSTD), or undefined. */
export function findZstdProgram(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findProgram(env.LCOW_ZSTD || 'zstd', env);
}

/** How zstd input would be decoded here: 'zlib', 'program', or undefined (it cannot be). */
export function zstdSupport(env: NodeJS.ProcessEnv = process.env): 'zlib' | 'program' | undefined {
  if (zlibZstd()) return 'zlib';
  return findZstdProgram(env) ? 'program' : undefined;
}

/** The error for zstd input where neither decoder exists. */
export function zstdUnsupported(): LcowError {
  return new LcowError(
    'EUNSUPPORTED',
    `zstd-compressed input needs Node ≥ 22.15 (this is ${process.version}) or the zstd program on PATH (Debian: apt-get install zstd)`,
    { compression: 'zstd', nodeVersion: process.version },
  );
}

function corrupt(detail: string): LcowError {
  return new LcowError('EBADTAR', `corrupt zstd stream: ${detail}`, { compression: 'zstd' });
}

/**
 * Decompress a zstd byte stream. Input chunks must be the caller's to give
 * away (both decoders may hold several at once). Throws EUNSUPPORTED before
 * reading anything when neither decoder exists.
 */
export async function* decompressZstd(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const viaZlib = zlibZstd();
  if (viaZlib) {
    yield* throughZlib(input, viaZlib(), 'zstd');
    return;
  }
  const program = findZstdProgram();
  if (!program) throw zstdUnsupported();
  yield* throughProgram(input, program);
}

/**
 * `zstd -dcq` with the input on stdin and the tar on stdout. Its exit status
 * is awaited before the last byte counts as the end, so a truncated or
 * corrupt stream is an error, not a silently short tar. Stopping early
 * (the consumer returns, or the input fails) kills the process.
 */
async function* throughProgram(input: AsyncIterable<Buffer>, program: string): AsyncGenerator<Buffer> {
  // Loaded here, not at the top: child_process (with net, dgram, …) is ~2 ms of every `lcow convert` start, and only this path needs it.
  const { spawn } = await import('node:child_process');
  const child = spawn(program, ['-dcq'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const failedToStart = new Promise<never>((_, reject) => child.once('error', reject));
  failedToStart.catch(() => undefined);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 2048) stderr += d;
  });
  // stdin errors (EPIPE when zstd stops early on bad input) are the exit status's story.
  child.stdin.on('error', () => undefined);
  let inputError: unknown;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (!child.stdin.write(chunk)) await drainedOrClosed(child.stdin);
        if (child.stdin.destroyed) return;
      }
    } catch (err) {
      inputError = err;
      child.kill('SIGKILL');
    } finally {
      child.stdin.end();
    }
  })();
  let finished = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    const { code, signal } = await Promise.race([exited, failedToStart]);
    await feeding;
    if (inputError !== undefined) throw asError(inputError);
    if (code !== 0) throw corrupt(stderr.trim() || `zstd exited with ${code ?? signal}`);
    finished = true;
  } finally {
    if (!finished && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.race([exited, failedToStart]).catch(() => undefined);
    // `feeding` is not awaited here: it may be waiting on a stalled input; it ends by itself and never rejects.
  }
}
