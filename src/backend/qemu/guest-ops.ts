/**
 * The guest side of the backend, as programs run through the agent.
 *
 * Where a step needs a little logic (find a device, poll for it, mount), it
 * is a fixed busybox `sh -c` script kept here as a constant; every variable
 * part — paths, LUNs, options — is passed as a positional parameter and only
 * ever expanded inside double quotes, so no input is parsed as shell. One
 * script per operation also keeps agent round trips (slow under TCG) to one;
 * release operations pending together share one process (guest-batch.ts).
 */
import { LcowError } from '../../errors.js';
import type { CombineLayersRequest, ExecResult, ScsiMountRequest, VpmemMountRequest } from '../types.js';
import { DEFAULT_BATCH_LIMITS, GuestBatcher, type GuestBatchLimits, type GuestRunner } from './guest-batch.js';
import { pciAddress, scsiControllerPciDevice, vpmemSlotLocation } from './qemu-args.js';

export type { GuestRunner } from './guest-batch.js';

/** Polls for a device for at most this many 10 ms rounds (10 s). */
const DEVICE_POLL_ROUNDS = 1000;

/**
 * $1 controller PCI address, $2 LUN → sets $dev to /dev/sdX once the disk is
 * there. The controller's SCSI host number comes from sysfs under its PCI
 * function, so it does not depend on the order controllers were probed in.
 * (find_dev sets a variable rather than printing: a $(…) subshell is a fork,
 * and forks are what cost time in an emulated guest.)
 */
const FIND_SCSI_DEV = `
find_dev() {
  for h in /sys/bus/pci/devices/"$1"/virtio*/host*; do
    [ -d "$h" ] || continue
    for b in /sys/bus/scsi/devices/"\${h##*/host}":0:0:"$2"/block/*; do
      [ -e "$b" ] && { dev="/dev/\${b##*/}"; return 0; }
    done
  done
  return 1
}
rescan() {
  for h in /sys/bus/pci/devices/"$1"/virtio*/host*; do
    [ -d "$h" ] && echo "0 0 $2" > "$h/scsi_host/\${h##*/}/scan"
  done 2>/dev/null
}
tries=5`;

/**
 * $1 bridge PCI address, $2 device number (2 hex digits) behind it → sets
 * $dev to /dev/pmemN of the virtio-pmem device there. (The bridge's bus
 * number is the kernel's choice, hence the 0000:*: glob.)
 */
const FIND_PMEM_DEV = `
find_dev() {
  for b in /sys/bus/pci/devices/"$1"/0000:*:"$2".0/virtio*/ndbus*/region*/namespace*/block/pmem*; do
    [ -e "$b" ] && { dev="/dev/\${b##*/}"; return 0; }
  done
  return 1
}
rescan() { :; }
tries=1`;

/** poll_dev: find_dev (args $1 $2) until $dev is a block device; exit 3 after DEVICE_POLL_ROUNDS. */
const POLL = `
poll_dev() {
  n=0
  until find_dev "$1" "$2" && [ -b "$dev" ]; do
    n=$((n + 1))
    [ "$n" -ge ${DEVICE_POLL_ROUNDS} ] && { echo "no block device for $1 $2" >&2; exit 3; }
    sleep 0.01
  done
}`;

/**
 * Wait for the device, then mkdir -m 0700 $target and mount; $3 target $4
 * fstype $5 options. A SCSI mount that fails is tried again, `tries` times
 * in all, after a rescan of its LUN: a freshly hot-added disk can refuse
 * its first open (ENXIO) — seen under load in restored and booted VMs alike —
 * and a LUN reused right after a release can lose its new disk to the late
 * removal event of the old one, which the rescan brings back.
 */
const POLL_AND_MOUNT = `${POLL}
poll_dev "$1" "$2"
made=0
[ -d "$3" ] || { mkdir -p -m 0700 "$3" && made=1; } || exit 4
try=1
until mount -t "$4" -o "$5" "$dev" "$3"; do
  if [ "$try" -ge "$tries" ]; then
    [ "$made" = 1 ] && rmdir "$3"
    exit 5
  fi
  try=$((try + 1))
  sleep 0.2
  rescan "$1" "$2"
  poll_dev "$1" "$2"
done`;

const MOUNT_SCSI_SCRIPT = FIND_SCSI_DEV + POLL_AND_MOUNT;
const MOUNT_PMEM_SCRIPT = FIND_PMEM_DEV + POLL_AND_MOUNT;

/**
 * $1 bridge PCI address, $2 device: once the device is there, print the N
 * of its /dev/pmemN. The guest numbers pmem devices by probe order (lowest
 * free region id), not by slot; hcsshim's GCS mounts /dev/pmem<DeviceNumber>,
 * so in gcs mode the host asks which N a slot got.
 */
const PMEM_INDEX_SCRIPT = `${FIND_PMEM_DEV}${POLL}
poll_dev "$1" "$2"
echo "\${dev#/dev/pmem}"`;

/**
 * The release operations, as shell functions for the release batch
 * (guest-batch.ts: the releases pending at one moment share one guest
 * process, each in its own subshell, so `exit` ends only its own item).
 *
 * op_unplug_scsi $1 controller PCI address, $2 LUN: ask the guest to drop
 * the disk; already gone is fine.
 *
 * op_release_pmem $1 bridge PCI address, $2 device: detach the virtio-pmem
 * device from its driver so /dev/pmemN goes away (QEMU 7.2 cannot unplug
 * virtio memory devices, so this is as far as removal goes). Refuses while
 * the device is mounted.
 *
 * op_unmount $1 path: unmount, then remove the (now empty) mount point.
 */
const RELEASE_OPS = `
op_unplug_scsi() {
  for h in /sys/bus/pci/devices/"$1"/virtio*/host*; do
    [ -d "$h" ] || continue
    p=/sys/bus/scsi/devices/"\${h##*/host}":0:0:"$2"/delete
    [ -e "$p" ] && echo 1 > "$p"
  done
  exit 0
}
op_release_pmem() {
  for v in /sys/bus/pci/devices/"$1"/0000:*:"$2".0/virtio*; do
    [ -e "$v/driver" ] || continue
    for b in "$v"/ndbus*/region*/namespace*/block/pmem*; do
      [ -e "$b" ] || continue
      while read -r dev rest; do
        [ "$dev" = "/dev/\${b##*/}" ] && { echo "/dev/\${b##*/} is still mounted" >&2; exit 16; }
      done < /proc/mounts
    done
    echo "\${v##*/}" > "$v/driver/unbind" || exit 1
  done
  exit 0
}
op_unmount() {
  umount "$1" && rmdir "$1"
}`;

/**
 * $1 bridge PCI address, $2 device: bind a released virtio-pmem device back to its
 * driver, so /dev/pmemN returns (the device never left QEMU; see above).
 */
const REVIVE_PMEM_SCRIPT = `
for v in /sys/bus/pci/devices/"$1"/0000:*:"$2".0/virtio*; do
  [ -e "$v" ] || continue
  [ -e "$v/driver" ] && continue
  echo "\${v##*/}" > /sys/bus/virtio/drivers/virtio_pmem/bind || exit 1
done
exit 0`;

/** $1 target, $2 options, rest: directories to create first. */
const OVERLAY_SCRIPT = `
t=$1; o=$2; shift 2
mkdir -p "$t" "$@" || exit 4
mount -t overlay overlay -o "$o" "$t"`;

export function checkGuestPath(p: string, what: string): void {
  if (!p.startsWith('/') || p.includes('\0') || p.includes('\n')) {
    throw new LcowError('EINVAL', `${what} must be an absolute guest path without NUL or newline: ${JSON.stringify(p)}`, { path: p });
  }
}

/** A mount option list joined with ',': an element holding ',' would smuggle in more options. */
export function mountOptions(options: readonly string[]): string {
  for (const o of options) {
    if (!o || /[,\0\n]/.test(o)) throw new LcowError('EINVAL', `bad mount option ${JSON.stringify(o)}`, { option: o });
  }
  return options.join(',');
}

/**
 * overlay mount data. lowerdir entries are always joined with ':' (moby once
 * joined them with ',', which the kernel reads as separate options), and
 * overlay uses ':' and ',' as separators, so neither may appear in a path.
 */
export function overlayOptions(req: CombineLayersRequest): string {
  if (req.lowerDirs.length === 0) throw new LcowError('EINVAL', 'combineLayers needs at least one lower directory', {});
  if ((req.upperDir === undefined) !== (req.workDir === undefined)) {
    throw new LcowError('EINVAL', 'combineLayers needs both upperDir and workDir, or neither', {});
  }
  const dirs = [...req.lowerDirs, ...(req.upperDir ? [req.upperDir, req.workDir as string] : [])];
  for (const d of dirs) {
    checkGuestPath(d, 'overlay directory');
    if (/[:,]/.test(d)) throw new LcowError('EINVAL', `overlay directory may not contain ':' or ',': ${d}`, { path: d });
  }
  const opts = [`lowerdir=${req.lowerDirs.join(':')}`];
  if (req.upperDir) opts.push(`upperdir=${req.upperDir}`, `workdir=${req.workDir}`);
  else opts.unshift('ro');
  const data = opts.join(',');
  // The kernel copies at most one page of mount data.
  if (Buffer.byteLength(data) >= 4096) {
    throw new LcowError('ETOOBIG', `overlay mount data is ${Buffer.byteLength(data)} bytes; the kernel takes < 4096`, {
      bytes: Buffer.byteLength(data),
      layers: req.lowerDirs.length,
    });
  }
  return data;
}

/** The scripts' $1 $2 for VPMEM slot s: its bridge's PCI address and its device number behind it. */
export function vpmemSlotArgs(slot: number): [string, string] {
  const { bridgeDevice, device } = vpmemSlotLocation(slot);
  return [pciAddress(bridgeDevice), device.toString(16).padStart(2, '0')];
}

function guestOpFailed(op: string, exitCode: number, stderr: string, context: Record<string, unknown>): LcowError {
  return new LcowError('EEXEC', `${op} failed in the guest (exit ${exitCode}): ${stderr}`, { ...context, op, exitCode, stderr });
}

export class GuestOpsImpl {
  /** Unmounts and device releases: the ones pending together share a guest process. */
  private readonly releases: GuestBatcher;

  constructor(
    private readonly run: GuestRunner,
    releaseBatch: GuestBatchLimits = DEFAULT_BATCH_LIMITS,
  ) {
    this.releases = new GuestBatcher(run, RELEASE_OPS, releaseBatch);
  }

  /** Run and require exit 0; a failure is EEXEC with the program's stderr. */
  private async must(op: string, argv: readonly string[], context: Record<string, unknown>): Promise<ExecResult> {
    const r = await this.run(argv, { maxOutputBytes: 64 * 1024 });
    if (r.exitCode !== 0) throw guestOpFailed(op, r.exitCode, r.stderr.toString('utf8').trim(), context);
    return r;
  }

  /** One release operation through the batch; a failure is EEXEC with its stderr, as from `must`. */
  private async release(op: string, batchOp: string, args: [string, string?], context: Record<string, unknown>): Promise<void> {
    const r = await this.releases.submit(batchOp, ...args);
    if (r.exitCode !== 0) throw guestOpFailed(op, r.exitCode, r.stderr.trim(), context);
  }

  async mountScsi(req: ScsiMountRequest): Promise<void> {
    checkGuestPath(req.guestPath, 'guestPath');
    // noload: a read-only ext4 must not replay (write) its journal.
    const opts = mountOptions([
      ...(req.readOnly ? ['ro', 'noload'] : ['rw']),
      ...(req.options ?? []).filter((o) => !(req.readOnly && (o === 'ro' || o === 'noload'))),
    ]);
    const pci = pciAddress(scsiControllerPciDevice(req.controller));
    await this.must('mountScsi', ['/bin/sh', '-c', MOUNT_SCSI_SCRIPT, 'sh', pci, String(req.lun), req.guestPath, req.fsType ?? 'ext4', opts], {
      controller: req.controller,
      lun: req.lun,
      guestPath: req.guestPath,
    });
  }

  async mountVpmem(req: VpmemMountRequest): Promise<void> {
    checkGuestPath(req.guestPath, 'guestPath');
    const [bridge, device] = vpmemSlotArgs(req.slot);
    // dax first (no page-cache copy of the layer); not every image/kernel pairing allows it.
    const ctx = { slot: req.slot, guestPath: req.guestPath };
    const argv = (opts: string): string[] => ['/bin/sh', '-c', MOUNT_PMEM_SCRIPT, 'sh', bridge, device, req.guestPath, req.fsType ?? 'ext4', opts];
    const dax = await this.run(argv('ro,noload,dax'), { maxOutputBytes: 64 * 1024 });
    if (dax.exitCode === 0) return;
    if (dax.exitCode !== 5) {
      throw new LcowError('EEXEC', `mountVpmem failed in the guest (exit ${dax.exitCode}): ${dax.stderr.toString().trim()}`, {
        ...ctx,
        exitCode: dax.exitCode,
      });
    }
    await this.must('mountVpmem', argv('ro,noload'), ctx);
  }

  /** The N of the /dev/pmemN that VPMEM slot `slot` appeared as (waiting for it to appear). */
  async pmemIndex(slot: number): Promise<number> {
    const r = await this.must('pmemIndex', ['/bin/sh', '-c', PMEM_INDEX_SCRIPT, 'sh', ...vpmemSlotArgs(slot)], { slot });
    const n = Number(r.stdout.toString().trim());
    if (!Number.isSafeInteger(n) || n < 0)
      throw new LcowError('EGUEST', `VPMEM slot ${slot}: no pmem number in ${JSON.stringify(r.stdout.toString())}`, { slot });
    return n;
  }

  /** Make the guest let go of VPMEM slot `slot` (no /dev/pmem left behind). */
  async releaseVpmem(slot: number): Promise<void> {
    await this.release('releaseVpmem', 'release_pmem', vpmemSlotArgs(slot), { slot });
  }

  /** Give back a VPMEM device released by releaseVpmem (still present in QEMU) to the guest. */
  async reviveVpmem(slot: number): Promise<void> {
    await this.must('reviveVpmem', ['/bin/sh', '-c', REVIVE_PMEM_SCRIPT, 'sh', ...vpmemSlotArgs(slot)], { slot });
  }

  async unmount(guestPath: string): Promise<void> {
    checkGuestPath(guestPath, 'guestPath');
    await this.release('unmount', 'unmount', [guestPath], { guestPath });
  }

  async unplugScsi(controller: number, lun: number): Promise<void> {
    const pci = pciAddress(scsiControllerPciDevice(controller));
    await this.release('unplugScsi', 'unplug_scsi', [pci, String(lun)], { controller, lun });
  }

  async combineLayers(req: CombineLayersRequest): Promise<void> {
    checkGuestPath(req.target, 'target');
    const data = overlayOptions(req);
    const extra = req.upperDir ? [req.upperDir, req.workDir as string] : [];
    await this.must('combineLayers', ['/bin/sh', '-c', OVERLAY_SCRIPT, 'sh', req.target, data, ...extra], { target: req.target, layers: req.lowerDirs.length });
  }

  async removeCombinedLayers(target: string): Promise<void> {
    checkGuestPath(target, 'target');
    await this.must('removeCombinedLayers', ['/bin/umount', target], { target });
  }
}
