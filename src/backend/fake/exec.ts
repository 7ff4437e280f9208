/**
 * The handful of guest programs the fake VM runs, over its GuestFs, enough
 * for examples and tests that read and write through mounts: cat, ls, mkdir,
 * tee, rm, test, echo, true, false. Anything else exits 127 like a shell's
 * "not found". Output and exit codes follow busybox closely enough.
 */
import type { ExecOptions, ExecResult } from '../types.js';
import type { GuestFs } from './guest-fs.js';

type Program = (args: string[], fs: GuestFs, stdin: Buffer) => { code: number; out?: string | Buffer; err?: string };

const programs: Record<string, Program> = {
  true: () => ({ code: 0 }),
  false: () => ({ code: 1 }),
  echo: (args) => ({ code: 0, out: `${args.join(' ')}\n` }),
  cat: (args, fs) => {
    const out: Buffer[] = [];
    for (const p of args) {
      try {
        out.push(fs.readFile(p));
      } catch {
        return { code: 1, out: Buffer.concat(out), err: `cat: can't open '${p}': No such file or directory\n` };
      }
    }
    return { code: 0, out: Buffer.concat(out) };
  },
  ls: (args, fs) => {
    const paths = args.filter((a) => !a.startsWith('-'));
    try {
      return {
        code: 0,
        out: fs
          .list(paths[0] ?? '/')
          .map((n) => `${n}\n`)
          .join(''),
      };
    } catch {
      return { code: 1, err: `ls: ${paths[0]}: No such file or directory\n` };
    }
  },
  mkdir: (args, fs) =>
    tryAll(
      args.filter((a) => a !== '-p'),
      (p) => fs.mkdirp(p),
      'mkdir',
    ),
  rm: (args, fs) =>
    tryAll(
      args.filter((a) => !a.startsWith('-')),
      (p) => fs.remove(p),
      'rm',
    ),
  tee: (args, fs, stdin) => {
    const r = tryAll(args, (p) => fs.writeFile(p, stdin), 'tee');
    return { ...r, out: stdin };
  },
  test: (args, fs) => {
    const [flag, p] = args;
    const n = p === undefined ? undefined : fs.stat(p);
    const ok = flag === '-e' ? n !== undefined : flag === '-f' ? n?.kind === 'file' : flag === '-d' ? n?.kind === 'dir' : false;
    return { code: ok ? 0 : 1 };
  },
};

function tryAll(paths: string[], fn: (p: string) => void, name: string): { code: number; err?: string } {
  for (const p of paths) {
    try {
      fn(p);
    } catch (e) {
      return { code: 1, err: `${name}: ${p}: ${(e as Error).message}\n` };
    }
  }
  return { code: 0 };
}

export function runFakeProgram(argv: readonly string[], fs: GuestFs, options: ExecOptions = {}): ExecResult {
  const name = (argv[0] ?? '').split('/').at(-1) ?? '';
  const program = programs[name];
  if (!program) return { exitCode: 127, stdout: Buffer.alloc(0), stderr: Buffer.from(`${argv[0]}: not found\n`), truncated: false };
  const stdin = options.stdin === undefined ? Buffer.alloc(0) : Buffer.from(options.stdin);
  const r = program(argv.slice(1), fs, stdin);
  const cap = options.maxOutputBytes ?? Infinity;
  const stdout = Buffer.from(r.out ?? '');
  const stderr = Buffer.from(r.err ?? '');
  return {
    exitCode: r.code,
    stdout: stdout.subarray(0, cap),
    stderr: stderr.subarray(0, cap),
    truncated: stdout.length > cap || stderr.length > cap,
  };
}
