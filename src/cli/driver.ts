/**
 * `lcow driver <verb> --root DIR [--opt key=value]… args` — every storage
 * driver verb from the shell. Structured results are JSON on stdout; tars go
 * to stdout or `-o FILE`. Each invocation is its own process, so service VMs
 * it started are stopped before it exits (get/put state does not outlive it:
 * `get` mounts, optionally reads, and puts again).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LcowError } from '../errors.js';
import { LcowDriver } from '../driver/index.js';
import { parseDriverArgs, readStdin, type ParsedArgs } from './driver-args.js';

const USAGE = `usage: lcow driver <verb> --root DIR [--opt lcow.key=value]… args
  create ID [PARENT]
  create-read-write ID [PARENT] [--size GB]
  remove ID
  get ID [--cat PATH | --ls PATH | --stat PATH | --write PATH (stdin)]
  put ID
  exists ID                      (exit 0 when it exists, 1 when not)
  apply-diff ID [PARENT] [TAR|-] (prints {"size":N})
  diff ID [PARENT] [-o FILE]     (tar to stdout or FILE)
  changes ID [PARENT]
  diff-size ID [PARENT]
  diff-getter ID PATH… [-o FILE] (the files' bytes, concatenated)
  metadata ID
  status
  cleanup`;

type Verb = (d: LcowDriver, a: ParsedArgs) => Promise<number>;

const json = (v: unknown): number => {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
  return 0;
};

function need(a: ParsedArgs, n: number, what: string): string[] {
  if (a.positional.length < n) throw new LcowError('EINVAL', `${what}\n${USAGE}`, { args: a.positional });
  return a.positional;
}

async function toOutput(stream: Readable, file: string | undefined): Promise<void> {
  await pipeline(stream, file ? createWriteStream(file) : process.stdout);
}

const VERBS: Record<string, Verb> = {
  create: async (d, a) => {
    const [id, parent = ''] = need(a, 1, 'create needs ID');
    await d.create(id!, parent);
    return 0;
  },
  'create-read-write': async (d, a) => {
    const [id, parent = ''] = need(a, 1, 'create-read-write needs ID');
    const size = a.flags.get('--size');
    await d.createReadWrite(id!, parent, typeof size === 'string' ? { storageOpt: { 'lcow.sandboxsize': size } } : {});
    return 0;
  },
  remove: async (d, a) => {
    await d.remove(need(a, 1, 'remove needs ID')[0]!);
    return 0;
  },
  get: async (d, a) => {
    const id = need(a, 1, 'get needs ID')[0]!;
    const h = await d.get(id);
    try {
      const cat = a.flags.get('--cat');
      const ls = a.flags.get('--ls');
      const st = a.flags.get('--stat');
      const write = a.flags.get('--write');
      if (typeof cat === 'string') process.stdout.write(await h.readFile(cat));
      else if (typeof ls === 'string') json(await h.readdir(ls));
      else if (typeof st === 'string') json(await h.stat(st));
      else if (typeof write === 'string') await h.writeFile(write, await readStdin());
      else json({ id, rootfs: await h.rootfs() });
      return 0;
    } finally {
      await d.put(id);
    }
  },
  put: async (d, a) => {
    await d.put(need(a, 1, 'put needs ID')[0]!); // a fresh process holds no gets: a no-op, kept for symmetry
    return 0;
  },
  exists: async (d, a) => ((await d.exists(need(a, 1, 'exists needs ID')[0]!)) ? (json(true), 0) : (json(false), 1)),
  'apply-diff': async (d, a) => {
    const [id, parent = '', file = '-'] = need(a, 1, 'apply-diff needs ID');
    const input = file === '-' ? process.stdin : createReadStream(file);
    return json({ id, size: await d.applyDiff(id!, parent, input as AsyncIterable<Uint8Array>) });
  },
  diff: async (d, a) => {
    const [id, parent = ''] = need(a, 1, 'diff needs ID');
    const o = a.flags.get('-o');
    await toOutput(await d.diff(id!, parent), typeof o === 'string' ? o : undefined);
    return 0;
  },
  changes: async (d, a) => {
    const [id, parent = ''] = need(a, 1, 'changes needs ID');
    return json(await d.changes(id!, parent));
  },
  'diff-size': async (d, a) => {
    const [id, parent = ''] = need(a, 1, 'diff-size needs ID');
    return json({ id, size: await d.diffSize(id!, parent) });
  },
  'diff-getter': async (d, a) => {
    const [id, ...paths] = need(a, 2, 'diff-getter needs ID and at least one PATH');
    const o = a.flags.get('-o');
    const getter = await d.diffGetter(id!);
    try {
      const out = typeof o === 'string' ? createWriteStream(o) : process.stdout;
      for (const p of paths) await pipeline(await getter.get(p), out, { end: false });
      if (out !== process.stdout) await new Promise<void>((r) => out.end(r));
    } finally {
      await getter.close();
    }
    return 0;
  },
  metadata: async (d, a) => json(await d.getMetadata(need(a, 1, 'metadata needs ID')[0]!)),
  status: async (d) => json(d.status()),
  cleanup: async (d) => {
    await d.cleanup();
    return 0;
  },
};

export async function run(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (!verb || verb === '--help' || verb === '-h') {
    process.stdout.write(USAGE + '\n');
    return verb ? 0 : 2;
  }
  const fn = VERBS[verb];
  if (!fn) throw new LcowError('EINVAL', `unknown driver verb '${verb}'\n${USAGE}`, { verb });
  const a = parseDriverArgs(rest, ['--size', '--cat', '--ls', '--stat', '--write', '-o'], [], USAGE);
  const d = await LcowDriver.open(a.root, { options: a.opts });
  try {
    return await fn(d, a);
  } finally {
    await d.cleanup(); // stop the VMs this process started; finish leftovers
  }
}
