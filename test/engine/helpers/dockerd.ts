/**
 * Private dockerd instances for the engine test: each with its own data
 * root, exec root, pid file, config file (so /etc/docker/daemon.json is not
 * read and the trust key is not written to /etc/docker/key.json) and API
 * socket, and no networking (no iptables, forwarding, masquerading or
 * bridge). It starts its own containerd as a child and stops it at exit.
 * Stopped by its pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DOCKERD = '/usr/sbin/dockerd';
/** Debian's own 20.10 client: the `docker` on PATH may be a newer one that defaults to BuildKit. */
export const DOCKER = '/usr/bin/docker';

export interface DockerResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface DaemonOptions {
  /** A private folder for everything of this daemon. */
  dir: string;
  storageDriver: string;
  experimental?: boolean;
  storageOpts?: string[];
}

export class Dockerd {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  readonly socket: string;
  readonly dataRoot: string;
  readonly log: string;

  constructor(readonly options: DaemonOptions) {
    this.socket = path.join(options.dir, 'api.sock');
    this.dataRoot = path.join(options.dir, 'data');
    this.log = path.join(options.dir, 'dockerd.log');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const { dir } = this.options;
    mkdirSync(dir, { recursive: true });
    const config = path.join(dir, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }));
    const args = [
      '--config-file',
      config,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      path.join(dir, 'exec'),
      '--pidfile',
      path.join(dir, 'dockerd.pid'),
      '--host',
      `unix://${this.socket}`,
      '-s',
      this.options.storageDriver,
      ...(this.options.storageOpts ?? []).flatMap((o) => ['--storage-opt', o]),
      ...(this.options.experimental ? ['--experimental'] : []),
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--bridge=none',
    ];
    const log = openSync(this.log, 'a');
    const child = spawn(DOCKERD, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    this.child = child;
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dockerd exited ${child.exitCode} at start:\n${this.tail()}`);
      if ((await this.docker(['version'])).code === 0) return;
      if (Date.now() > end) throw new Error(`dockerd did not answer in ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves once it is gone. */
  async stop(graceMs = 60_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /** The Debian client against this daemon; BuildKit off, a private client config. */
  docker(args: string[], options: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<DockerResult> {
    return new Promise((resolve, reject) => {
      const c = spawn(DOCKER, ['-H', `unix://${this.socket}`, ...args], {
        env: { PATH: process.env.PATH, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: path.join(this.options.dir, 'client') },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      let err = '';
      const timer = options.timeoutMs ? setTimeout(() => c.kill('SIGKILL'), options.timeoutMs) : undefined;
      c.stdout.on('data', (b: Buffer) => out.push(b));
      c.stderr.on('data', (b: Buffer) => (err += b.toString()));
      c.on('error', reject);
      c.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err });
      });
      c.stdin.on('error', () => {});
      c.stdin.end(options.stdin ?? '');
    });
  }

  /** `docker …` that must succeed; its stdout as text. */
  async ok(args: string[], options: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.docker(args, options);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}\n--- dockerd log ---\n${this.tail()}`);
    return r.stdout.toString('utf8');
  }

  tail(lines = 30): string {
    if (!existsSync(this.log)) return '';
    return readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n');
  }
}
