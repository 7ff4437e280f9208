/**
 * `lcow` command dispatcher. Each command lives in its own module, loaded on
 * demand, exporting `run(args: string[]): Promise<number>` (the exit code).
 */
import { existsSync } from 'node:fs';
import { isLcowError } from '../errors.js';

type CommandModule = { run(args: string[]): Promise<number> };

/**
 * command word(s) → module path (relative to this file) and one-line help;
 * `bundled`: the same module as one file, which the build makes for the
 * short-lived commands (scripts/build.mjs) and which is loaded when present.
 */
const COMMANDS: Array<{ words: string[]; module: string; bundled?: string; help: string }> = [
  {
    words: ['convert'],
    module: './convert.js',
    bundled: './convert.bundle.js',
    help: 'convert <layer.tar|-> <out.vhd> [--whiteouts] [--no-vhd] [--verity] [--max-size N] [--align N] [--json]',
  },
  { words: ['inspect'], module: './inspect.js', help: 'inspect <image> [path] — list/stat files in an ext4, VHD or VHDX image' },
  { words: ['image', 'build'], module: './image-build.js', help: 'image build [--force] — build the QEMU guest kernel+initrd into the cache' },
  { words: ['image', 'import'], module: './image-import.js', help: 'image import --root DIR <docker-save.tar | oci-layout-dir>' },
  { words: ['vm'], module: './vm.js', help: 'vm run [--layer L]… -- argv… — boot a utility VM, mount layers, run a command' },
  { words: ['run'], module: './run.js', help: 'run --root DIR <image> -- argv… — run a command in a container rootfs' },
  { words: ['driver'], module: './driver.js', help: 'driver <verb> --root DIR … — every storage-driver verb' },
  {
    words: ['plugin', 'serve'],
    module: './plugin.js',
    help: 'plugin serve --root DIR [--name NAME] [--socket PATH] — serve the driver to dockerd as a graph-driver plugin',
  },
];

function usage(): string {
  return ['usage: lcow <command> …', '', ...COMMANDS.map((c) => `  lcow ${c.help}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  const match = COMMANDS.filter((c) => c.words.every((w, i) => argv[i] === w)).sort((a, b) => b.words.length - a.words.length)[0];
  if (!match) {
    process.stderr.write(`lcow: unknown command '${argv.join(' ')}'\n\n${usage()}\n`);
    return 2;
  }
  const bundled = match.bundled && new URL(match.bundled, import.meta.url);
  const mod = (await import(bundled && existsSync(bundled) ? bundled.href : match.module)) as CommandModule;
  try {
    return await mod.run(argv.slice(match.words.length));
  } catch (err) {
    if (isLcowError(err)) {
      process.stderr.write(`lcow: ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
