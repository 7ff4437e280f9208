// Runs examples/vm-lifecycle.ts as a user would and checks what it prints:
// the union's content as the guest sees it, the write that reached the
// sandbox on the host, a clean teardown, and a timing for every phase.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('examples/vm-lifecycle.ts', () => {
  it('boots, mounts two layers + scratch, reads and writes inside, tears down', async () => {
    const { stdout } = await run('npx', ['tsx', 'examples/vm-lifecycle.ts'], { maxBuffer: 16 << 20 });
    expect(stdout).toMatch(/^layer top: (vpmem|scsi)/m);
    expect(stdout).toMatch(/^layer base: (vpmem|scsi)/m);
    expect(stdout).toContain('rootfs: /run/c/example/rootfs');
    expect(stdout).toContain('$ cat /etc/motd\nmotd from the top layer\n');
    expect(stdout).toContain('$ cat /etc/os-release\nNAME=example-base\n');
    expect(stdout).toMatch(/^\$ ls \/\napp etc( lost\+found)?$/m); // no 'gone': whited out by the top layer
    expect(stdout).toContain('upper dir after the write: written.txt');
    expect(stdout).toContain('mounts left: 0');
    expect(stdout).toContain('on the host, sandbox upper/written.txt: written inside the container');
    expect(stdout).toMatch(/^timings \(ms\): boot=\d+ mount=\d+ exec=\d+ teardown=\d+ terminate=\d+$/m);
  }, 900_000);
});
