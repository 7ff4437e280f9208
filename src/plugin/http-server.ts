/**
 * The transport of a v1 docker plugin: HTTP/1.1 on a unix socket (node:http),
 * `POST /Plugin.Activate` and `POST /<Interface>.<Verb>`. It knows nothing
 * about graph drivers: verbs arrive as a table, each one of three shapes —
 * JSON in and out, a stream in (ApplyDiff's tar body), or a stream out
 * (Diff's tar answer).
 *
 * Failures are HTTP 500 with `{"Err": "<CODE>: <message>"}`, which the
 * daemon's client turns into the error it reports (a non-200 answer is never
 * retried). A verb the table lacks is 404, which the daemon reads as "not
 * implemented" (it does so for Capabilities).
 *
 * The socket appears owner-only with no window: it is bound inside a fresh
 * private directory (mkdtemp: 0700) next to its final name, chmod 0600, and
 * renamed into place; a live socket already there is EBUSY, a dead one is
 * replaced.
 */
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { drainedOrClosed } from '../drained.js';
import { LcowError, asError, hostFsError, isLcowError } from '../errors.js';
import type { Logger } from '../log.js';
import { Deadline } from './deadline.js';
import { ACTIVATE_RESPONSE, PLUGIN_MEDIA_TYPE } from './protocol.js';

/** What a verb's work gets: the abort signal of its time limit, and `touch` to report progress. */
export interface VerbContext {
  signal: AbortSignal;
  touch(): void;
}

export type Verb =
  | { kind: 'json'; run(body: unknown, ctx: VerbContext): Promise<unknown> }
  | { kind: 'upload'; run(query: string, body: AsyncIterable<Buffer>, ctx: VerbContext): Promise<unknown> }
  | { kind: 'download'; run(body: unknown, ctx: VerbContext): Promise<Readable> };

export interface PluginHttpOptions {
  socketPath: string;
  /** `<Interface>.<Verb>` → its handler. */
  verbs: ReadonlyMap<string, Verb>;
  /** Interfaces named in Plugin.Activate's answer. */
  implements?: readonly string[];
  /** A verb's limit without progress, in ms. */
  verbTimeoutMs: number;
  logger: Logger;
}

/** A JSON request body larger than this is refused: no verb's arguments come near it. */
const MAX_JSON_BODY = 1 << 20;

export class PluginHttpServer {
  private readonly server: http.Server;
  private socketIno: number | undefined;

  private constructor(private readonly options: PluginHttpOptions) {
    // requestTimeout 0: an ApplyDiff upload of a large layer must not be cut at Node's default 300 s; the verbs keep their own limits.
    this.server = http.createServer({ requestTimeout: 0 }, (req, res) => void this.handle(req, res));
  }

  static async listen(options: PluginHttpOptions): Promise<PluginHttpServer> {
    const s = new PluginHttpServer(options);
    await s.bind();
    return s;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  /** Stop listening, drop every connection, remove the socket (if it is still ours). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    const ino = await fs.stat(this.options.socketPath).then(
      (st) => st.ino,
      () => undefined,
    );
    if (ino !== undefined && ino === this.socketIno) await fs.rm(this.options.socketPath, { force: true });
  }

  private async bind(): Promise<void> {
    const final = this.options.socketPath;
    const dir = path.dirname(final);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 }).catch((err: unknown) => {
      throw hostFsError(err, `cannot make the plugin socket's directory ${dir}`, { socketPath: final });
    });
    await refuseLiveSocket(final);
    const priv = await fs.mkdtemp(path.join(dir, '.lcow-'));
    try {
      const tmp = path.join(priv, 's');
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(tmp, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
      await fs.chmod(tmp, 0o600);
      await fs.rename(tmp, final);
      this.socketIno = (await fs.stat(final)).ino;
    } catch (err) {
      this.server.close();
      throw hostFsError(err, `cannot listen on ${final}`, { socketPath: final });
    } finally {
      await fs.rm(priv, { recursive: true, force: true });
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const name = (q < 0 ? url : url.slice(0, q)).replace(/^\//, '');
    const query = q < 0 ? '' : url.slice(q + 1);
    const log = this.options.logger.child({ verb: name });
    const started = Date.now();
    if (req.method !== 'POST') return this.fail(res, new LcowError('EINVAL', `${name}: plugin calls are POST, not ${req.method}`, { verb: name }), 405);
    if (name === 'Plugin.Activate') {
      req.resume();
      return this.json(res, this.options.implements ? { Implements: this.options.implements } : ACTIVATE_RESPONSE);
    }
    const verb = this.options.verbs.get(name);
    if (!verb) {
      req.resume();
      return this.fail(res, new LcowError('EUNSUPPORTED', `${name} is not implemented by this plugin`, { verb: name }), 404);
    }
    const deadline = new Deadline(name, this.options.verbTimeoutMs);
    const ctx: VerbContext = { signal: deadline.signal, touch: () => deadline.touch() };
    try {
      if (verb.kind === 'upload') {
        const result = await deadline.race(verb.run(query, progress(req, deadline), ctx));
        this.json(res, result);
      } else {
        const body = await deadline.race(readJson(req, name));
        if (verb.kind === 'json') this.json(res, await deadline.race(verb.run(body, ctx)));
        else await this.stream(res, await deadline.race(verb.run(body, ctx)), deadline);
      }
      log.debug({ ms: Date.now() - started }, 'verb done');
    } catch (err) {
      const e = asError(err);
      log.warn({ err: e, ms: Date.now() - started }, 'verb failed');
      if (!res.headersSent) this.fail(res, e);
      else res.destroy(e); // mid-stream: the daemon sees a broken body, never a short tar taken for whole
      req.resume();
    } finally {
      deadline.dispose();
    }
  }

  private json(res: http.ServerResponse, value: unknown): void {
    const body = Buffer.from(JSON.stringify(value ?? {}));
    res.writeHead(200, { 'Content-Type': PLUGIN_MEDIA_TYPE, 'Content-Length': body.length });
    res.end(body);
  }

  private fail(res: http.ServerResponse, err: Error, status = 500): void {
    const body = Buffer.from(JSON.stringify({ Err: errorText(err) }));
    res.writeHead(status, { 'Content-Type': PLUGIN_MEDIA_TYPE, 'Content-Length': body.length });
    res.end(body);
  }

  /** Diff's tar as the answer body; the time limit watches each chunk. */
  private async stream(res: http.ServerResponse, body: Readable, deadline: Deadline): Promise<void> {
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    const onAbort = () => body.destroy(deadline.signal.reason as Error);
    deadline.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        deadline.touch();
        if (!res.write(chunk)) await deadline.race(drainedOrClosed(res));
      }
      await new Promise<void>((resolve) => res.end(resolve));
    } finally {
      deadline.signal.removeEventListener('abort', onAbort);
      body.destroy();
    }
  }
}

/** The message the daemon shows: the LcowError code first, so nobody has to parse prose. */
export function errorText(err: Error): string {
  const e = isLcowError(err) ? err : hostFsError(err, 'internal error');
  return `${e.code}: ${e.message}`;
}

/** A request body's chunks; each one is progress. */
async function* progress(req: http.IncomingMessage, deadline: Deadline): AsyncGenerator<Buffer> {
  for await (const chunk of req as AsyncIterable<Buffer>) {
    deadline.touch();
    yield chunk;
  }
}

async function readJson(req: http.IncomingMessage, verb: string): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_JSON_BODY) throw new LcowError('ETOOBIG', `${verb}: request body over ${MAX_JSON_BODY} bytes`, { verb });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '' || text === 'null') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LcowError('EINVAL', `${verb}: the request body is not JSON`, { verb }, { cause: err });
  }
}

/** A socket someone answers on is EBUSY; a dead one (ECONNREFUSED) is a leftover and is removed. */
async function refuseLiveSocket(file: string): Promise<void> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new LcowError('EEXIST', `${file} exists and is not a socket`, { socketPath: file });
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(file);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (live) throw new LcowError('EBUSY', `another process serves ${file}`, { socketPath: file });
  await fs.rm(file, { force: true });
}
