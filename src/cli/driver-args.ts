/**
 * Argument parsing shared by `lcow driver` and `lcow run`: `--root DIR`,
 * repeated `--opt key=value`, flags, and positionals. `--` ends options
 * (everything after it is positional, verbatim).
 */
import { LcowError } from '../errors.js';

export interface ParsedArgs {
  root: string;
  opts: string[];
  flags: Map<string, string | true>;
  positional: string[];
  /** What came after `--`, verbatim. */
  rest: string[];
}

/** `valued` options take a value (`--x v` or `--x=v`); `switches` take none. */
export function parseDriverArgs(argv: string[], valued: readonly string[], switches: readonly string[], usage: string): ParsedArgs {
  const out: ParsedArgs = { root: '', opts: [], flags: new Map(), positional: [], rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (switches.includes(name)) {
      out.flags.set(name, true);
      continue;
    }
    if (name !== '--root' && name !== '--opt' && !valued.includes(name)) {
      throw new LcowError('EINVAL', `unknown option '${name}'\n${usage}`, { option: name });
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new LcowError('EINVAL', `${name} needs a value\n${usage}`, { option: name });
    if (name === '--root') out.root = value;
    else if (name === '--opt') out.opts.push(value);
    else out.flags.set(name, value);
  }
  if (!out.root) throw new LcowError('EINVAL', `--root DIR is required\n${usage}`, { option: '--root' });
  return out;
}

/** All of stdin (for `--write`, `--stdin`). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
