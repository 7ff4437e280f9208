/**
 * A remembered answer from apt, valid while apt's view has not changed.
 *
 * Why: resolving the cloud kernel (`apt-cache depends` + `apt-cache show`)
 * takes ~1.5 s, and every process that boots its first VM asks — the whole
 * of `lcow run`'s start-up before QEMU, measured. The answer only changes
 * when the package lists or the installed set change, so it is kept in the
 * cache folder with a key made of those files' modification times
 * (`apt-get update` replaces files in /var/lib/apt/lists, which moves the
 * directory's mtime; dpkg rewrites /var/lib/dpkg/status). Any doubt —
 * a missing or unreadable memo, a different key — asks apt again.
 */
import { fileIdentity } from '../file-identity.js';
import { readMemo, writeMemo } from '../memo-file.js';

export const APT_STATE_FILES: readonly string[] = ['/var/lib/apt/lists', '/var/lib/dpkg/status'];

/** The key for the current apt state: each file's path and identity (file-identity.ts); '' for a missing one. */
export async function aptStateKey(files: readonly string[] = APT_STATE_FILES): Promise<string> {
  const parts = await Promise.all(files.map(async (f) => `${f}@${await fileIdentity(f)}`));
  return parts.join('|');
}

interface Memo<T> {
  question: string;
  key: string;
  answer: T;
}

/**
 * `answer()` once per apt state: the memo file holds the last answer to
 * `question` and the key it was given under. Undefined answers (apt did not
 * know) are never remembered.
 */
export async function memoisedAptAnswer<T>(file: string, question: string, key: string, answer: () => Promise<T | undefined>): Promise<T | undefined> {
  const memo = await readMemo<Memo<T>>(file);
  if (memo?.question === question && memo.key === key) return memo.answer;
  const fresh = await answer();
  // Not written (a read-only cache): it only costs the 1.5 s again.
  if (fresh !== undefined) await writeMemo(file, { question, key, answer: fresh } satisfies Memo<T>);
  return fresh;
}
