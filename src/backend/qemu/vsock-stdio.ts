/**
 * Process stdio for gcs mode over vsock, where the host can give a guest a
 * vsock device (/dev/vhost-vsock): the GCS dials host CID 2 on the port of
 * each stream. Node cannot open an AF_VSOCK socket, so each listener is a
 * `socat VSOCK-LISTEN:<port> STDIO` child whose stdin and stdout are the
 * stream (socat is a Debian package; without it, or without
 * /dev/vhost-vsock, gcs mode runs with no stdio and exec output comes from
 * qemu-guest-agent).
 *
 * NOT RUN on the machines this project is tested on: they have no
 * /dev/vhost-vsock (no KVM, CONFIG_VHOST_VSOCK unset). Written from socat's
 * and QEMU's documentation; treat it as a starting point.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { LcowError } from '../../errors.js';
import { findProgram } from '../../find-program.js';
import { FIRST_STDIO_PORT, type StdioListener, type StdioTransport } from '../gcs/index.js';

/** Host vsock ports are host-wide (a listener binds any CID), so each VM's stdio ports get their own 64 Ki range. */
const PORT_RANGE = 0x10000;
const RANGES = 0x3fff;

/** The vsock part of gcs mode, or undefined where this host cannot do it. */
export function vsockStdio(): { cid: number; stdio: StdioTransport; firstStdioPort: number } | undefined {
  const socat = findProgram('socat');
  if (!existsSync('/dev/vhost-vsock') || !socat) return undefined;
  // A guest CID must be unique on the host (QEMU fails to start otherwise); a random one from 2^31 rarely is not.
  const cid = randomInt(3, 0x7fffffff);
  return { cid, stdio: new SocatVsockStdio(socat), firstStdioPort: FIRST_STDIO_PORT + (cid % RANGES) * PORT_RANGE };
}

class SocatVsockStdio implements StdioTransport {
  constructor(private readonly socat: string) {}

  listen(port: number): Promise<StdioListener> {
    // -t: after one direction ends, wait (practically) for ever for the other, so output is never cut short.
    const child = spawn(this.socat, ['-d', '-d', '-t', '1000000', `VSOCK-LISTEN:${port}`, 'STDIO'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stream = Duplex.from({ readable: child.stdout, writable: child.stdin });
    return new Promise((resolve, reject) => {
      let log = '';
      let listening = false;
      const accepted = new Promise<Duplex>((resolveAccept, rejectAccept) => {
        child.stderr.on('data', (b: Buffer) => {
          log += b.toString();
          if (!listening && /listening on/.test(log)) {
            listening = true;
            resolve(listener(child, accepted));
          }
          if (/accepting connection/.test(log)) resolveAccept(stream);
        });
        child.once('exit', (code) => {
          const err = new LcowError('EIO', `socat for vsock port ${port} exited ${code}: ${log.trim()}`, { port, code });
          rejectAccept(err);
          if (!listening) reject(err);
        });
        child.once('error', (err) => reject(new LcowError('EHOSTDEPS', `cannot run socat: ${err.message}`, { program: this.socat }, { cause: err })));
      });
      accepted.catch(() => undefined);
    });
  }
}

function listener(child: ChildProcess, accepted: Promise<Duplex>): StdioListener {
  return {
    accept: () => accepted,
    close: () => {
      // After the stream ended socat exits by itself; before, this stops a listener nobody dialled.
      if (child.exitCode === null) child.kill();
    },
  };
}
