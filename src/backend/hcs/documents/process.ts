/**
 * ProcessParameters for HcsCreateProcess. The command is an argv array
 * (CommandArgs), never a command line joined from input; the std streams are
 * pipes, no console emulation.
 */
import { LcowError } from '../../../errors.js';

export interface ProcessParameters {
  CommandArgs: string[];
  WorkingDirectory?: string;
  Environment?: Record<string, string>;
  EmulateConsole: false;
  CreateStdInPipe: true;
  CreateStdOutPipe: true;
  CreateStdErrPipe: true;
}

export function buildProcessParameters(argv: readonly string[], opts: { cwd?: string; env?: Record<string, string> } = {}): ProcessParameters {
  if (!argv[0]) throw new LcowError('EINVAL', 'exec needs a non-empty argv[0]', {});
  if (argv.some((a) => a.includes('\0'))) throw new LcowError('EINVAL', 'argv entries must not contain NUL', {});
  return {
    CommandArgs: [...argv],
    ...(opts.cwd ? { WorkingDirectory: opts.cwd } : {}),
    ...(opts.env ? { Environment: { ...opts.env } } : {}),
    EmulateConsole: false,
    CreateStdInPipe: true,
    CreateStdOutPipe: true,
    CreateStdErrPipe: true,
  };
}
