// examples/pull-and-run.ts, run as a test with real VMs in both modes.
import { describe, expect, it } from 'vitest';
import { pullAndRun } from '../../examples/pull-and-run.js';

describe.each([false, true])('examples/pull-and-run (global=%s)', (global) => {
  it('applies the chain, writes and runs in the sandbox, diffs and lists changes on the host', async () => {
    const r = await pullAndRun({ global, log: () => undefined });
    expect(r.readBack).toBe('written inside the VM\n');
    // the app layer's whiteout hid /etc/motd; its opaque /var/lib hid old-state
    expect(r.runOutput).toBe('hello from the app layer\nwritten inside the VM\n/etc:\n\n/var/lib:\napp-state\n');
    expect(r.changes).toEqual(expect.arrayContaining([{ path: '/app/note.txt', kind: 'add' }]));
    expect(r.changes.filter((c) => c.kind !== 'modify').map((c) => c.path)).toEqual(['/app/note.txt']);
    expect(r.diffTarBytes).toBeGreaterThan(1024);
  });
});
