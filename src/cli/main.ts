/**
 * `lcow` command dispatcher. Each command lives in its own module, loaded on
 * demand, exporting `run(args: string[]): Promise<number>` (the exit code).
 */
import { runCommand } from './run-command.js';

type CommandModule = { run(args: string[]): Promise<number> };

/**
 * command word(s) → module path (relative to this file) and one-line help.
 * (bin/lcow.cjs runs `convert` from its one-file bundle without coming here,
 * when the build made it: convert-main.ts.)
 */
const COMMANDS: Array<{ words: string[]; module: string; help: string }> = [
  {
    words: ['convert'],
    module: './convert.js',
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
  const mod = (await import(match.module)) as CommandModule;
  return runCommand((args) => mod.run(args), argv.slice(match.words.length));
}
