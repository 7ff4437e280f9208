/**
 * Runs one command's `run(args)` the way every `lcow` command ends: its exit
 * code, or an LcowError printed as `lcow: CODE: message` (exit 1). Anything
 * else is a bug and propagates with its stack. Shared by the dispatcher
 * (main.ts) and the converter's one-file entry (convert-main.ts), so both
 * print errors alike.
 */
import { isLcowError } from '../errors.js';

export async function runCommand(run: (args: string[]) => Promise<number>, args: string[]): Promise<number> {
  try {
    return await run(args);
  } catch (err) {
    if (isLcowError(err)) {
      process.stderr.write(`lcow: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
