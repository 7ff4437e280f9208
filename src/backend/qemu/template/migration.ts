/**
 * Saving and loading a template's device state over QMP (QEMU 7.2).
 *
 * Guest RAM is a memory-backend-file in both VMs; with the `x-ignore-shared`
 * capability (set on both sides) the stream skips it, so it holds device
 * state only. 7.2 has no `file:` URI (8.2 has), so the stream goes through
 * `exec:` — `/bin/sh -c` run by QEMU — with the path single-quoted: the
 * path is the cache folder's, never a request's input.
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { LcowError } from '../../../errors.js';
import type { QmpClient } from '../qmp-client.js';
import { TEMPLATE_FILES } from './key.js';

const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };
/** The 7.2 default is 128 MiB/s: a save would take seconds for nothing. */
const UNLIMITED_BANDWIDTH = 100 * 1024 ** 3;
const POLL_MS = 10;

/** gcs mode: the GCS's negotiated bridge state, saved beside a template's device state. */
export function gcsStateFile(statePath: string): string {
  return path.join(path.dirname(statePath), TEMPLATE_FILES.gcs);
}

/** A POSIX shell word for `s` that no shell expands. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Every POLL_MS until `step` gives a value or `deadline` passes (ETIMEOUT naming `what`). */
async function poll<T>(what: string, deadline: number, step: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await step();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new LcowError('ETIMEOUT', `timed out waiting for ${what}`, { what });
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Pause the VM and write its device state to `statePath` (through
 * `<statePath>.part`, renamed by the same shell once complete, so the file
 * only appears whole — QEMU reports 'completed' when it has written the
 * pipe, not when `cat` has written the file).
 */
export async function saveState(qmp: QmpClient, statePath: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await qmp.execute('stop');
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNLIMITED_BANDWIDTH });
  const part = `${statePath}.part`;
  await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(part)} && mv ${shellQuote(part)} ${shellQuote(statePath)}` });
  await poll('the template state to be written', deadline, async () => {
    const s = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (s.status === 'failed' || s.status === 'cancelled') {
      throw new LcowError('EQMP', `saving the template state failed: ${s['error-desc'] ?? s.status}`, { status: s.status });
    }
    return s.status === 'completed' ? true : undefined;
  });
  await poll('the template state file', deadline, () =>
    access(statePath).then(
      () => true,
      () => undefined,
    ),
  );
}

/**
 * Load `statePath` into a VM started with `-incoming defer`, then run it.
 * A stream that does not load makes QEMU exit (the caller sees EVMSTOPPED).
 */
export async function restoreState(qmp: QmpClient, statePath: string, deadline: number): Promise<void> {
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(statePath)}` });
  const status = await poll('the template state to load', deadline, async () => {
    const s = await qmp.execute<{ status: string }>('query-status');
    return s.status === 'inmigrate' ? undefined : s.status;
  });
  // the template was saved paused; anything else but running means the load failed
  if (status === 'paused') await qmp.execute('cont');
  else if (status !== 'running') throw new LcowError('EQMP', `restored VM is ${status}`, { status });
}
