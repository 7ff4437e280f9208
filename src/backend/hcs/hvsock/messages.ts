/**
 * What the main thread (transport.ts) and the hvsock worker (worker.js) say
 * to each other over their MessagePort. Ids: `req` is the main thread's, for
 * a command that gets one answer (listen, accept); `lid` (listener) and `sid`
 * (stream) are the worker's, never reused, so a late message about a closed
 * socket cannot reach a new one.
 */
import type { MessagePort } from 'node:worker_threads';

export interface WorkerSetup {
  /** The ws2_32 library to load (System32's, or a stand-in in tests). */
  library: string;
  port: MessagePort;
  /** An Int32 the main thread bumps (and notifies) after every command: the worker's wake-up when it has nothing to poll. */
  bell: SharedArrayBuffer;
  /** WSAPoll's timeout: how long a command may wait while sockets are open. */
  pollIntervalMs: number;
  /** How long the worker sleeps on the bell with nothing to poll (a command wakes it at once). */
  idleWaitMs: number;
  /** Bytes a stream may deliver to the main thread before a grant (its read credit when accepted). */
  readWindow: number;
}

export type Command =
  /** Open an AF_HYPERV socket, FIONBIO, bind to `address` (a SOCKADDR_HV), listen. → listening | failed */
  | { op: 'listen'; req: number; address: ArrayBuffer }
  /** The listener's next connection. → accepted | failed */
  | { op: 'accept'; req: number; lid: number }
  /** closesocket the listener; its waiting accepts fail with `closed`. */
  | { op: 'unlisten'; lid: number }
  /** Queue bytes for send. → sent (as they leave) | error */
  | { op: 'write'; sid: number; data: ArrayBuffer }
  /** shutdown(SD_SEND) once the queue has left. → shut | error */
  | { op: 'shutdown'; sid: number }
  /** The main thread has consumed `bytes` of what the stream delivered: that much more may be read. */
  | { op: 'grant'; sid: number; bytes: number }
  /** closesocket, dropping what is still queued. → closed */
  | { op: 'close'; sid: number }
  /** Close every socket, WSACleanup, end the thread. → stopped */
  | { op: 'stop' };

/** A Winsock call that failed (`wsa`: WSAGetLastError), an unexpected WSAPoll `revents`, or a listener closed under a waiting accept. */
export interface WinsockFailure {
  call: string;
  wsa?: number;
  revents?: number;
  closed?: true;
}

export type WorkerEvent =
  | { ev: 'ready' }
  /** WSAStartup failed; the worker has ended. */
  | { ev: 'fatal'; error: WinsockFailure }
  | { ev: 'listening'; req: number; lid: number }
  | { ev: 'accepted'; req: number; sid: number }
  | { ev: 'failed'; req: number; error: WinsockFailure }
  | { ev: 'data'; sid: number; data: ArrayBuffer }
  /** recv returned 0 (or WSAECONNABORTED): the guest will send nothing more. */
  | { ev: 'end'; sid: number }
  | { ev: 'sent'; sid: number; bytes: number }
  | { ev: 'shut'; sid: number }
  /** The stream is broken; only its close is still done. */
  | { ev: 'error'; sid: number; error: WinsockFailure }
  | { ev: 'closed'; sid: number }
  /** Worth a log line, nothing more (WSAPoll failed once). */
  | { ev: 'warning'; error: WinsockFailure }
  | { ev: 'stopped' };
