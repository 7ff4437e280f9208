/** Shared libraries (and the ELF loader) a dynamically linked host program needs, from `ldd`. */
import { runHostCommand } from '../host-command.js';

/** Absolute paths from ldd output; vdso lines carry no file and are skipped. */
export function parseLdd(output: string): string[] {
  const out = new Set<string>();
  for (const line of output.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    if (arrow) {
      out.add(arrow[1]!);
      continue;
    }
    const direct = /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (direct) out.add(direct[1]!);
  }
  return [...out];
}

export async function sharedLibraries(program: string): Promise<string[]> {
  const { stdout } = await runHostCommand('ldd', [program], { packageName: 'libc-bin' });
  return parseLdd(stdout.toString());
}
