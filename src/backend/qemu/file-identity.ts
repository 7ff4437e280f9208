/**
 * What tells a host file apart from a replaced or rewritten one — device,
 * inode, size and mtime (ns) — as one string; '' for a file that is not
 * there. The one answer to "is this still the file we saw?" for the QEMU
 * backend's memos (accelerator probe, apt state, template inputs) and for
 * a VPMEM slot that can only take back the file it held.
 */
import { stat } from 'node:fs/promises';

export async function fileIdentity(p: string): Promise<string> {
  const st = await stat(p, { bigint: true }).catch(() => undefined);
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}` : '';
}
