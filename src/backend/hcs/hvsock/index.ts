/**
 * backend/hcs/hvsock: AF_HYPERV sockets for Node, through koffi and
 * ws2_32.dll, all owned by one worker thread (worker.js). See ../README.md.
 */
export {
  acquireHvsock,
  liveHvsockWorkers,
  winsockError,
  HvsockTransport,
  HvsockListener,
  DEFAULT_POLL_INTERVAL_MS,
  type HvsockLease,
  type HvsockOptions,
} from './transport.js';
export { HvsockStream, READ_WINDOW, WRITE_WINDOW } from './stream.js';
export { HvsockStdio } from './stdio.js';
export { vsockServiceId, normalizeGuid, guidBytes, sockaddrHv, SOCKADDR_HV } from './address.js';
