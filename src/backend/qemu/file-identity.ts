/**
 * What tells a host file apart from a replaced or rewritten one — device,
 * inode, size and mtime (ns) — as one string; '' for a file that is not
 * there. The one answer to "is this still the file we saw?" for the QEMU
 * backend's memos (accelerator probe, apt state, template inputs) and for
 * a VPMEM slot that can only take back the file it held.
 */
import { stat } from 'node:fs/promises';

export async function fileIdentity(p: string, options: { device?: boolean } = {}): Promise<string> {
  const st = await stat(p, { bigint: true }).catch(() => undefined);
  if (!st) return '';
  // Without the device for what is kept across reboots: some file systems (btrfs, overlay) number it per mount.
  return options.device === false ? `${st.ino}:${st.size}:${st.mtimeNs}` : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}`;
}
