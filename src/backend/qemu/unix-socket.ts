/**
 * Connect to a unix socket that a just-spawned QEMU is about to create:
 * retry on ENOENT/ECONNREFUSED until `deadline`, or give up early when
 * `abort` says the process is gone.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { LcowError } from '../../errors.js';

export async function connectUnixSocket(path: string, deadline: number, isAborted: () => string | undefined = () => undefined): Promise<net.Socket> {
  let delay = 5;
  for (;;) {
    const reason = isAborted();
    if (reason) throw new LcowError('EVMSTOPPED', `VM stopped before ${path} accepted a connection: ${reason}`, { path });
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const s = net.createConnection(path);
        s.once('connect', () => {
          s.removeListener('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw new LcowError('EIO', `cannot connect to ${path}`, { path }, { cause: err });
      if (Date.now() >= deadline) throw new LcowError('ETIMEOUT', `timed out connecting to ${path}`, { path }, { cause: err });
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }
}
