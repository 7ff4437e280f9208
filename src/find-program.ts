/**
 * Where a program is, as the shell would find it: a name with a '/' is taken
 * as is; a bare name is looked up in PATH. Only executable files count.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = name.includes('/')
    ? [name]
    : (env.PATH ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((d) => path.join(d, name));
  return candidates.find((c) => {
    try {
      accessSync(c, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
