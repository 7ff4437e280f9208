/**
 * The current inputs a template depends on beyond its shape (key.ts): the
 * boot files' sha256 and the QEMU binary's version. Hashing a kernel and an
 * initrd takes ~0.1 s, so a result is remembered in this process for as long
 * as the file's identity (file-identity.ts) stays the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { findProgram } from '../../../find-program.js';
import { fileIdentity } from '../file-identity.js';
import { runHostCommand } from '../host-command.js';
import { TEMPLATE_FORMAT, type TemplateInputs } from './key.js';

const hashes = new Map<string, { id: string; sha: Promise<string> }>();
const versions = new Map<string, Promise<string>>();

/** sha256 of a file, remembered while the file is unchanged. */
export async function fileSha256(p: string): Promise<string> {
  const id = await fileIdentity(p);
  const known = hashes.get(p);
  if (known?.id === id) return known.sha;
  const sha = new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(p)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
  hashes.set(p, { id, sha });
  sha.catch(() => hashes.delete(p));
  return sha;
}

/** `qemu-system-x86_64 --version`'s first line, once per binary and file identity. */
export async function qemuVersion(binaryPath: string): Promise<string> {
  const key = `${binaryPath}@${await fileIdentity(binaryPath)}`;
  let v = versions.get(key);
  if (!v) {
    v = runHostCommand(binaryPath, ['--version']).then((r) => r.stdout.toString('utf8').split('\n')[0]?.trim() ?? '');
    versions.set(key, v);
    v.catch(() => versions.delete(key));
  }
  return v;
}

/** `argv`: what a VM restored from the template runs, its per-VM paths made constant. */
export async function templateInputs(o: {
  qemuBinary: string;
  accel: string;
  kernelPath: string;
  initrdPath: string;
  argv: readonly string[];
}): Promise<TemplateInputs> {
  const qemuBinary = findProgram(o.qemuBinary) ?? o.qemuBinary;
  const [kernelSha256, initrdSha256, version] = await Promise.all([fileSha256(o.kernelPath), fileSha256(o.initrdPath), qemuVersion(qemuBinary)]);
  const argvSha256 = createHash('sha256').update(o.argv.join('\0')).digest('hex');
  return { format: TEMPLATE_FORMAT, kernelSha256, initrdSha256, qemuBinary, qemuVersion: version, accel: o.accel, argvSha256 };
}
