/**
 * pull-and-run: the storage driver end to end, the way an engine drives it.
 *
 *   npx tsx examples/pull-and-run.ts [--root DIR] [--global]
 *
 * 1. "pull": apply a chain of two real layers, built here with tar-stream —
 *    a base holding the host's static busybox (Debian busybox-static) and its
 *    applet symlinks, then an app layer with a file, a whiteout and an opaque
 *    directory;
 * 2. create a container sandbox on top, get it (a service VM mounts the
 *    union), write and read a file inside, run a command in a container on it, put;
 * 3. diff the sandbox to a tar and list its changes — on the host;
 * 4. remove everything and clean up.
 * Every step is printed with its duration.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import tar from 'tar-stream';
import { LcowDriver, type Change } from '../src/driver/index.js';

const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'id', 'uname', 'mkdir', 'rm', 'env', 'true'];
const T = new Date('2024-01-01T00:00:00Z');

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink'; data?: Buffer | string; linkname?: string; mode?: number };

function tarOf(entries: Entry[]): Readable {
  const pack = tar.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: T, linkname: e.linkname };
    if (type === 'file') pack.entry(header, typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0)));
    else pack.entry(header);
  }
  pack.finalize();
  return pack as unknown as Readable;
}

export function baseLayer(): Readable {
  return tarOf([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 },
    ...APPLETS.map((a): Entry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/motd', data: 'welcome to the base layer\n' },
    { name: 'var/', type: 'directory' },
    { name: 'var/lib/', type: 'directory' },
    { name: 'var/lib/old-state', data: 'stale\n' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
  ]);
}

export function appLayer(): Readable {
  return tarOf([
    { name: 'app/', type: 'directory' },
    { name: 'app/greeting.txt', data: 'hello from the app layer\n' },
    { name: 'etc/', type: 'directory' },
    { name: 'etc/.wh.motd' }, // whiteout: the base's motd is gone
    { name: 'var/', type: 'directory' },
    { name: 'var/lib/', type: 'directory' },
    { name: 'var/lib/.wh..wh..opq' }, // opaque: nothing of the base's var/lib shows
    { name: 'var/lib/app-state', data: 'fresh\n' },
  ]);
}

export interface ExampleResult {
  readBack: string;
  runOutput: string;
  changes: Change[];
  diffTarBytes: number;
  steps: Array<{ step: string; ms: number }>;
}

export async function pullAndRun(options: { root?: string; global?: boolean; log?: (line: string) => void } = {}): Promise<ExampleResult> {
  const log = options.log ?? ((line: string) => process.stdout.write(line + '\n'));
  const root = options.root ?? (await mkdtemp(path.join(tmpdir(), 'lcow-example-')));
  const steps: ExampleResult['steps'] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    const ms = Math.round(performance.now() - t0);
    steps.push({ step: name, ms });
    log(`${name.padEnd(44)} ${String(ms).padStart(6)} ms`);
    return r;
  };

  const d = await step(`open ${root}${options.global ? ' (global mode)' : ''}`, () =>
    LcowDriver.open(root, { options: options.global ? ['lcow.globalmode=true'] : [] }),
  );
  try {
    const baseSize = await step('applyDiff base (busybox)', () => d.applyDiff('base', '', baseLayer()));
    const appSize = await step('applyDiff app (file, whiteout, opaque dir)', () => d.applyDiff('app', 'base', appLayer()));
    log(`  layer sizes: base ${baseSize} B, app ${appSize} B`);
    await step('createReadWrite ctr (first: makes the template)', () => d.createReadWrite('ctr', 'app'));
    const h = await step('get ctr', () => d.get('ctr'));
    await step('writeFile /app/note.txt (boots the service VM)', () => h.writeFile('/app/note.txt', 'written inside the VM\n'));
    const readBack = (await step('readFile /app/note.txt', () => h.readFile('/app/note.txt'))).toString();
    log(`  read back: ${JSON.stringify(readBack)}`);
    const r = await step('run (runc): sh -c "cat …; ls /var/lib /etc"', () =>
      h.run(['/bin/sh', '-c', 'cat /app/greeting.txt /app/note.txt; ls /var/lib /etc']),
    );
    const runOutput = r.stdout.toString();
    log(runOutput.replace(/^/gm, '  | ').trimEnd());
    await step('put ctr (unmount, stop the VM)', () => d.put('ctr'));
    const diffFile = path.join(root, 'ctr-diff.tar');
    const diffTarBytes = await step('diff ctr → tar (host)', async () => {
      const chunks: Buffer[] = [];
      for await (const c of await d.diff('ctr', 'app')) chunks.push(c as Buffer);
      const buf = Buffer.concat(chunks);
      await writeFile(diffFile, buf);
      return buf.length;
    });
    log(`  ${diffFile}: ${diffTarBytes} B`);
    const changes = await step('changes ctr (host)', () => d.changes('ctr', 'app'));
    for (const c of changes) log(`  ${c.kind === 'add' ? 'A' : c.kind === 'modify' ? 'C' : 'D'} ${c.path}`);
    await step('remove ctr, app, base', async () => {
      for (const id of ['ctr', 'app', 'base']) await d.remove(id);
    });
    return { readBack, runOutput, changes, diffTarBytes, steps };
  } finally {
    await step('cleanup', () => d.cleanup());
    if (!options.root) await rm(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const rootAt = args.indexOf('--root');
  pullAndRun({ root: rootAt >= 0 ? args[rootAt + 1] : undefined, global: args.includes('--global') }).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
