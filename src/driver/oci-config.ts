/**
 * The OCI runtime config (runc's config.json) for one container process,
 * generated per run. The shape follows `runc spec` (runc 1.1) and the set of
 * things moby hands a real LCOW container, narrowed where the driver's
 * service VM needs it narrower:
 *
 * - its own mount, PID, IPC, UTS, network and cgroup namespaces: mounts it
 *   makes die with it (so `put` can always unmount), it sees no other
 *   process of the VM, and no network at all (only `lo`);
 * - a /dev of its own (a tmpfs where runc creates null, zero, full, random,
 *   urandom and tty, with pts, shm and mqueue) and a cgroup device rule that
 *   denies every other device, so the VM's block devices cannot be opened
 *   even by a node made elsewhere;
 * - moby's default capabilities minus CAP_MKNOD; never CAP_SYS_ADMIN (mount)
 *   or CAP_SYS_RAWIO. (`runc spec` itself grants only AUDIT_WRITE, KILL and
 *   NET_BIND_SERVICE: ordinary images then fail at the first chown, so the
 *   engine's set is the one to start from.) No inheritable or ambient set,
 *   as moby since CVE-2022-24769, and no new privileges (setuid binaries
 *   gain nothing);
 * - /proc with runc's masked and read-only paths, /sys read-only.
 */
import { LcowError } from '../errors.js';

/** The OCI runtime-spec subset this driver writes (runtime-spec 1.0). */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable' | 'ambient', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    cgroupsPath: string;
    resources: { devices: { allow: boolean; access: string }[] };
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface ContainerProcess {
  /** Guest path of the container's root file system (the union). */
  rootfs: string;
  /** True when the union has no read-write scratch. */
  readonlyRootfs: boolean;
  /** Unique in the VM: runc's container id and the cgroup's name. */
  id: string;
  hostname: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

/** moby's default capability set (oci/caps/defaults.go) without CAP_MKNOD. */
export const CONTAINER_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export const DEFAULT_CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Directories runc mounts on (proc, sys, dev). They must exist in the rootfs;
 * the driver provides them from a guest directory under every layer
 * (layer-handle.ts), so runc never creates them in a sandbox, where `changes`
 * would report them, or fails on a read-only layer that lacks them.
 */
export const MOUNT_POINTS: readonly string[] = ['proc', 'sys', 'dev'];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function refuse(what: string, value: unknown): never {
  throw new LcowError('EINVAL', `bad container ${what}: ${JSON.stringify(value)}`, { [what]: value });
}

/** Environment as `NAME=value`: PATH defaults to the usual one; names are plain, nothing holds NUL (execve could not take it). */
function environment(env: Readonly<Record<string, string>> = {}): string[] {
  const merged: Record<string, string> = { PATH: DEFAULT_CONTAINER_PATH, ...env };
  return Object.entries(merged).map(([k, v]) => {
    if (k === '' || k.includes('=') || k.includes('\0')) refuse('environment variable name', k);
    if (typeof v !== 'string' || v.includes('\0')) refuse('environment value', v);
    return `${k}=${v}`;
  });
}

export function ociConfig(p: ContainerProcess): OciConfig {
  if (p.args.length === 0 || p.args.some((a) => typeof a !== 'string' || a.includes('\0'))) refuse('argv', p.args);
  const cwd = p.cwd ?? '/';
  if (!cwd.startsWith('/') || cwd.includes('\0')) refuse('cwd', cwd);
  const caps = [...CONTAINER_CAPABILITIES];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...p.args],
      env: environment(p.env),
      cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: [], ambient: [] },
      noNewPrivileges: true,
    },
    root: { path: p.rootfs, readonly: p.readonlyRootfs },
    hostname: p.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      cgroupsPath: `/lcow/${p.id}`,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network', 'cgroup'].map((type) => ({ type })),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
