import type { LibraryDef } from './function-def.js';
export declare const WS2_32: LibraryDef;
export declare const WINSOCK: {
  readonly VERSION_2_2: number;
  readonly AF_HYPERV: number;
  readonly SOCK_STREAM: number;
  readonly HV_PROTOCOL_RAW: number;
  readonly SOCKET_ERROR: number;
  readonly LISTEN_BACKLOG: number;
  readonly SD_SEND: number;
  readonly FIONBIO: number;
  readonly POLLRDNORM: number;
  readonly POLLWRNORM: number;
  readonly POLLERR: number;
  readonly POLLHUP: number;
  readonly POLLNVAL: number;
};
export declare const WSA_ERRORS: Readonly<Record<number, string>>;
export declare const WSA: { readonly EINTR: number; readonly EWOULDBLOCK: number; readonly ECONNABORTED: number; readonly ECONNRESET: number };
