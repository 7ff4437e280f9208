/**
 * Run a host program (argv, no shell) and collect its output. Used by the
 * image builder and disk-format helpers; a missing program becomes EHOSTDEPS
 * naming the Debian package, a failure EIO with the program's stderr.
 */
import { spawn } from 'node:child_process';
import { LcowError } from '../../errors.js';

export interface HostCommandOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Debian package providing the program, for the EHOSTDEPS hint. */
  packageName?: string;
}

export interface HostCommandResult {
  stdout: Buffer;
  stderr: string;
}

export function runHostCommand(file: string, args: readonly string[], options: HostCommandOptions = {}): Promise<HostCommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        const pkg = options.packageName;
        reject(
          new LcowError(
            'EHOSTDEPS',
            `host program ${file} not found${pkg ? `; run as root: apt-get install -y ${pkg}` : ''}`,
            { program: file, package: pkg },
            { cause: e },
          ),
        );
      } else {
        reject(new LcowError('EIO', `cannot run ${file}: ${e.message}`, { program: file }, { cause: e }));
      }
    });
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr });
      else
        reject(
          new LcowError('EIO', `${file} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`, {
            program: file,
            args: [...args],
            exitCode: code,
            signal,
          }),
        );
    });
  });
}
