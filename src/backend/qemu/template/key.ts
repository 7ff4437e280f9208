/**
 * What a VM template depends on, and where it lives. Pure, so the decisions
 * are unit-tested.
 *
 * A template is a booted VM's device state (a QEMU migration stream) plus
 * its guest RAM as a file. It can only be restored by a QEMU process with
 * the same device list and the same guest in RAM, so:
 * - the **key** (the folder name) covers the VM's shape — memory, CPUs,
 *   SCSI controllers, VPMEM slots and size, kernel arguments, guest agent,
 *   serial console — and the boot files' paths: two shapes or two guest
 *   images never share or fight over one folder;
 * - the **inputs** recorded beside it cover what can change under the same
 *   key: the boot files' contents (sha256), the QEMU binary and version,
 *   the accelerator, the argv this code gives such a VM (its device layout). A template whose recorded inputs differ is stale and is
 *   rebuilt in place, so old templates do not pile up.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { VmSpec } from '../../types.js';

/** Bump when the files or the way they are made change: older templates become stale. */
export const TEMPLATE_FORMAT = 2;

/** A template's files; `gcs` only in gcs mode (the negotiated bridge state, read at restore: missing or bad → a cold boot). */
export const TEMPLATE_FILES = Object.freeze({ state: 'state', ram: 'ram', meta: 'meta.json', gcs: 'gcs.json' });

export interface TemplateShape {
  memoryMiB: number;
  cpus: number;
  scsiControllers: number;
  vpmemCount: number;
  vpmemMaxSizeBytes: number;
  kernelArgs: string;
  guest: 'qemu-guest-agent' | 'gcs';
  serialConsole: boolean;
  kernelPath: string;
  initrdPath: string;
}

export interface TemplateInputs {
  format: number;
  kernelSha256: string;
  initrdSha256: string;
  qemuBinary: string;
  qemuVersion: string;
  accel: string;
  /** sha256 of a restoring VM's argv with per-VM paths made constant: a change of the device layout in code makes templates stale. */
  argvSha256: string;
}

/** meta.json: written last, so a folder with a readable one was finished. */
export interface TemplateMeta {
  key: string;
  shape: TemplateShape;
  inputs: TemplateInputs;
  /** Unique per build: discarding a bad template must not remove a newer good one. */
  buildId: string;
  stateBytes: number;
  stateSha256: string;
  ramBytes: number;
  /**
   * The RAM file's inode, size and mtime when the build finished
   * (file-identity.ts): a RAM file written to since — even at the same size —
   * is corrupt. Not a content hash: reading 100–200 MiB at every start would
   * cost more than restoring saves (a restore takes ~0.2 s). Format 2.
   */
  ramIdentity: string;
  builtAt: string;
  /** Cold boot to agent-ready plus saving, ms. */
  buildMs: number;
}

export function templateShape(
  spec: VmSpec,
  o: { guest: TemplateShape['guest']; serialConsole: boolean; kernelPath: string; initrdPath: string },
): TemplateShape {
  return {
    memoryMiB: spec.memoryMiB,
    cpus: spec.cpus,
    scsiControllers: spec.scsiControllers,
    vpmemCount: spec.vpmem.count,
    vpmemMaxSizeBytes: spec.vpmem.count === 0 ? 0 : spec.vpmem.maxSizeBytes,
    kernelArgs: spec.kernelArgs ?? '',
    guest: o.guest,
    serialConsole: o.serialConsole,
    kernelPath: path.resolve(o.kernelPath),
    initrdPath: path.resolve(o.initrdPath),
  };
}

/** JSON with keys in a fixed order, so equal values hash equally. */
function canonical(value: object): string {
  return JSON.stringify(
    Object.keys(value)
      .sort()
      .map((k) => [k, (value as Record<string, unknown>)[k]]),
  );
}

/** The folder name of a shape's template: 24 hex digits of its sha256. */
export function templateKey(shape: TemplateShape): string {
  return createHash('sha256').update(`lcow-template-v${TEMPLATE_FORMAT}\n`).update(canonical(shape)).digest('hex').slice(0, 24);
}

export function templateDir(cacheRoot: string, key: string): string {
  return path.join(cacheRoot, 'templates', key);
}

/** What was found on disk for a template folder (any part may be missing). */
export interface FoundTemplate {
  /** meta.json parsed, or undefined when absent or unreadable. */
  meta?: unknown;
  stateBytes?: number;
  ramBytes?: number;
  /** See TemplateMeta.ramIdentity ('' when the file is missing). */
  ramIdentity?: string;
  /** sha256 of the state file (small: device state only). */
  stateSha256?: string;
}

export type TemplateVerdict = { use: true; meta: TemplateMeta } | { use: false; reason: 'missing' | 'stale' | 'corrupt'; detail: string };

function isMeta(m: unknown): m is TemplateMeta {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  return (
    typeof o.key === 'string' &&
    typeof o.buildId === 'string' &&
    typeof o.stateBytes === 'number' &&
    typeof o.stateSha256 === 'string' &&
    typeof o.ramBytes === 'number' &&
    typeof o.ramIdentity === 'string' &&
    typeof o.inputs === 'object' &&
    o.inputs !== null &&
    typeof o.shape === 'object' &&
    o.shape !== null
  );
}

/**
 * Can this template be restored for `shape` with `inputs`? Missing (no
 * folder or no meta.json: never finished), stale (made from other inputs:
 * rebuild), corrupt (files that do not match what meta.json recorded:
 * truncated, rewritten) — anything but `use` means a cold boot.
 */
export function judgeTemplate(found: FoundTemplate, key: string, shape: TemplateShape, inputs: TemplateInputs): TemplateVerdict {
  if (found.meta === undefined) return { use: false, reason: 'missing', detail: 'no template' };
  if (!isMeta(found.meta)) return { use: false, reason: 'corrupt', detail: 'meta.json is not a template description' };
  const meta = found.meta;
  if (meta.key !== key || canonical(meta.shape) !== canonical(shape)) return { use: false, reason: 'stale', detail: 'made for another VM shape' };
  const changed = (Object.keys(inputs) as (keyof TemplateInputs)[]).filter((k) => meta.inputs[k] !== inputs[k]);
  if (changed.length > 0) return { use: false, reason: 'stale', detail: `inputs changed: ${changed.join(', ')}` };
  if (found.stateBytes !== meta.stateBytes)
    return { use: false, reason: 'corrupt', detail: `state file is ${found.stateBytes ?? 'missing'}, expected ${meta.stateBytes} bytes` };
  if (found.ramBytes !== meta.ramBytes)
    return { use: false, reason: 'corrupt', detail: `RAM file is ${found.ramBytes ?? 'missing'}, expected ${meta.ramBytes} bytes` };
  if (found.ramIdentity !== meta.ramIdentity) return { use: false, reason: 'corrupt', detail: 'RAM file written to since it was built' };
  if (found.stateSha256 !== meta.stateSha256) return { use: false, reason: 'corrupt', detail: 'state file content changed' };
  return { use: true, meta };
}
