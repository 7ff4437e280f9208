// Layer tars for the driver tests, written with tar-stream, and a reader
// that turns any tar stream back into comparable entries.
import { Readable } from 'node:stream';
import tar from 'tar-stream';

export type Item =
  | { name: string; type?: 'file'; data: string | Buffer; mode?: number }
  | { name: string; type: 'directory'; mode?: number }
  | { name: string; type: 'symlink'; linkname: string };

export function layerTar(items: Item[]): Readable {
  const pack = tar.pack();
  for (const it of items) {
    if (it.type === 'directory') pack.entry({ name: it.name, type: 'directory', mode: it.mode ?? 0o755, mtime: new Date(1_700_000_000_000) });
    else if (it.type === 'symlink') pack.entry({ name: it.name, type: 'symlink', linkname: it.linkname, mtime: new Date(1_700_000_000_000) });
    else
      pack.entry({ name: it.name, mode: it.mode ?? 0o644, mtime: new Date(1_700_000_000_000) }, typeof it.data === 'string' ? Buffer.from(it.data) : it.data);
  }
  pack.finalize();
  return pack as unknown as Readable;
}

export interface SeenEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  linkname?: string;
  data?: string;
}

/** Entries of a tar stream, names without './' or trailing '/', sorted; file bodies as base64. */
export async function readTar(stream: AsyncIterable<Uint8Array> | Readable): Promise<SeenEntry[]> {
  const ex = tar.extract();
  const out: SeenEntry[] = [];
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      const h = e.header;
      const name = h.name.replace(/^\.\//, '').replace(/\/$/, '');
      out.push({
        name,
        type: h.type ?? 'file',
        mode: (h.mode ?? 0) & 0o7777,
        size: h.size ?? 0,
        ...(h.linkname ? { linkname: h.linkname } : {}),
        ...(h.type === 'file' ? { data: Buffer.concat(chunks).toString('base64') } : {}),
      });
    }
  })();
  for await (const c of stream) ex.write(Buffer.from(c as Uint8Array));
  await new Promise<void>((resolve) => ex.end(resolve));
  await done;
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
