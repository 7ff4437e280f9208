/**
 * Process stdio over hvsockets, for GcsClient: the GCS dials the host's vsock
 * port for each stream, which on Windows is the service GUID of that port on
 * the VM's RuntimeId (hcsshim's HvsockIoListen). A stream closes by itself
 * once both sides have ended; whatever a process left open is closed with
 * the VM (closeAll), since the worker may serve other VMs for longer.
 */
import type { Duplex } from 'node:stream';
import type { StdioListener, StdioTransport } from '../../gcs/index.js';
import type { Logger } from '../../../log.js';
import { vsockServiceId } from './address.js';
import type { HvsockTransport } from './transport.js';

export class HvsockStdio implements StdioTransport {
  private readonly open = new Set<Duplex>();

  constructor(
    private readonly transport: HvsockTransport,
    /** The VM's RuntimeId. */
    private readonly vmId: string,
    private readonly log: Logger,
  ) {}

  async listen(port: number): Promise<StdioListener> {
    const listener = await this.transport.listen(this.vmId, vsockServiceId(port));
    return {
      accept: async (): Promise<Duplex> => {
        const stream = await listener.accept();
        // A stream broken by the guest (a reset) must not be an unhandled 'error' in this process: the
        // process relay gathers what it can and the exit code still comes through the bridge.
        stream.on('error', (err) => this.log.debug({ err, port }, 'process stdio stream failed'));
        this.open.add(stream);
        stream.once('close', () => this.open.delete(stream));
        return stream;
      },
      close: () => listener.close(),
    };
  }

  /** Close every stream still open (the VM is gone). */
  closeAll(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}
