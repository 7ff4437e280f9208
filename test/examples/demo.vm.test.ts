// Runs the Quick start's `npm run demo` exactly as a user does (host check,
// then examples/demo.ts) and checks what it prints: the image imported layer
// by layer, the command's output from inside the union (whiteout and opaque
// dir applied), the write seen as a change on the host, and a teardown that
// leaves no service VM, no QEMU process and no data root behind.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const checkout = path.resolve(import.meta.dirname, '..', '..');

/** Command lines of the processes still running that mention `text`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(text)) found.push(cmd);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

describe('examples/demo.ts (npm run demo)', () => {
  it('imports an image, runs a command in a container VM, reads its changes on the host, and tears everything down', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'demo'], { cwd: checkout, maxBuffer: 16 << 20 }); // rejects on a non-zero exit
    const step = (name: string) => new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+\\d+ ms$`, 'm');

    const [, dataRoot] = /^open driver \(data root (\S+)\)\s+\d+ ms$/m.exec(stdout) ?? [];
    expect(dataRoot).toMatch(/lcow-demo-/);
    expect(stdout).toMatch(/^ {2}layer 1\/2 sha256:[0-9a-f]{12}… \d+ B$/m);
    expect(stdout).toMatch(/^ {2}layer 2\/2 sha256:[0-9a-f]{12}… \d+ B$/m);
    expect(stdout).toMatch(step('import demo-image.tar (tar → ext4 → layer.vhd)'));
    expect(stdout).toMatch(step('boot VM, attach 2 layers + sandbox, overlay, run'));

    // the command ran in the union: the app layer's file, its whiteout (no /etc/motd) and opaque dir (only app-state)
    expect(stdout).toMatch(/^ {2}\$ "\/bin\/sh" "-c" ".*"\s+\(exit 0\)$/m);
    expect(stdout).toMatch(/^ {2}\| Linux \d+\.\d+/m);
    expect(stdout).toContain('  | hello from the app layer\n');
    expect(stdout).toMatch(/^ {2}\| etc: ?$/m);
    expect(stdout).toContain('  | var/lib: app-state\n');
    expect(stdout).toMatch(/^ {2}\| uid=0/m);
    expect(stdout).not.toMatch(/^ {2}! /m); // nothing on the command's stderr

    // the write inside the VM is the container's one change, read on the host
    expect(stdout).toMatch(step('put ctr (unmount, detach, stop the VM)'));
    expect(stdout).toContain('  A /hello-from-demo.txt\n');
    expect(stdout).toMatch(/^ {2}\d+ bytes of tar$/m);

    // teardown
    expect(stdout).toMatch(step('remove ctr and the image layers'));
    expect(stdout).toContain('  running service VMs: 0\n');
    expect(stdout).toMatch(/^demo finished in \d+\.\d s$/m);
    expect(existsSync(dataRoot!)).toBe(false);
    expect(processesMentioning(dataRoot!)).toEqual([]);
  }, 900_000);
});
