/**
 * The overlay mount data a union becomes in the guest kernel, and its limit.
 *
 * The kernel copies mount data into a single page, so `lowerdir=…,upperdir=…,
 * workdir=…` must fit in 4096 bytes including the terminating NUL. hcsshim
 * has no workaround either; it relies on short layer paths, as we do (see
 * mount-points.ts). Lower dirs are joined with ':' top-most first — moby's
 * ',' for a read-only top layer was a bug (',' separates mount options).
 */
import { LcowError } from '../errors.js';
import type { CombineLayersRequest } from '../backend/index.js';

/** Longest mount data string the kernel accepts (one page minus the NUL). */
export const OVERLAY_MOUNT_DATA_MAX = 4095;

/** `lowerdir=a:b[,upperdir=u,workdir=w]` exactly as the guest passes it to mount(2). */
export function overlayMountData(req: Pick<CombineLayersRequest, 'lowerDirs' | 'upperDir' | 'workDir'>): string {
  let data = `lowerdir=${req.lowerDirs.join(':')}`;
  if (req.upperDir !== undefined) data += `,upperdir=${req.upperDir},workdir=${req.workDir}`;
  return data;
}

/** Reject a request the guest kernel would refuse, with a reason a caller can act on. */
export function validateCombineRequest(req: CombineLayersRequest, vmId: string): void {
  const ctx = { vmId, target: req.target };
  if (req.lowerDirs.length === 0) throw new LcowError('EINVAL', 'a union needs at least one read-only layer', ctx);
  if (req.upperDir === undefined && req.lowerDirs.length < 2) {
    // The kernel: "at least 2 lowerdir are needed while upperdir nonexistent".
    throw new LcowError('EINVAL', 'a read-only union (no scratch) needs at least two layers', { ...ctx, layers: req.lowerDirs.length });
  }
  if ((req.upperDir === undefined) !== (req.workDir === undefined)) {
    throw new LcowError('EINVAL', 'upperDir and workDir go together', { ...ctx, upperDir: req.upperDir, workDir: req.workDir });
  }
  for (const p of [req.target, ...req.lowerDirs, req.upperDir, req.workDir]) {
    // ':' and ',' separate overlay options and paths; '\\' escapes them; none may appear in a path we pass.
    if (p !== undefined && (!p.startsWith('/') || /[:,\\\n\0]/.test(p))) {
      throw new LcowError('EINVAL', `guest path ${JSON.stringify(p)} cannot be used in an overlay mount`, { ...ctx, guestPath: p });
    }
  }
  const data = overlayMountData(req);
  if (Buffer.byteLength(data) > OVERLAY_MOUNT_DATA_MAX) {
    throw new LcowError(
      'ETOOBIG',
      `overlay mount data for ${req.lowerDirs.length} layers is ${Buffer.byteLength(data)} bytes; the kernel takes ${OVERLAY_MOUNT_DATA_MAX}`,
      {
        ...ctx,
        layers: req.lowerDirs.length,
        bytes: Buffer.byteLength(data),
        maxBytes: OVERLAY_MOUNT_DATA_MAX,
      },
    );
  }
}
