// Run the `lcow` CLI from the .ts sources in a child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const MAIN = pathToFileURL(path.join(import.meta.dirname, '..', '..', '..', 'src', 'cli', 'main.ts')).href;

export interface CliResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export function lcow(args: string[], stdin?: Buffer | string): Promise<CliResult> {
  const boot = `import(${JSON.stringify(MAIN)}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; }, (e) => { console.error(e); process.exitCode = 99; })`;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', '-e', boot, '--', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => (err += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
    // A command that never reads its stdin may exit before the write lands (EPIPE): not a failure.
    c.stdin.on('error', () => {});
    c.stdin.end(stdin ?? '');
  });
}
