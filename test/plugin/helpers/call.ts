// A v1 plugin client as small as the daemon's: POST /<Verb> on a unix socket.
import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body as JSON (undefined when it is not JSON). */
  json: unknown;
}

export function call(socketPath: string, verb: string, body?: unknown, query = ''): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, path: `/${verb}${query ? `?${query}` : ''}`, method: 'POST', headers: { Accept: 'application/vnd.docker.plugins.v1.2+json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = JSON.parse(b.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json });
        });
      },
    );
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else if (typeof body === 'object' && body !== null && Symbol.asyncIterator in body) {
      void (async () => {
        for await (const c of body as AsyncIterable<Buffer>) if (!req.write(c)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch(reject);
    } else req.end(JSON.stringify(body));
  });
}
