// The hvsock worker: the one thread that makes Winsock calls. It owns every
// AF_HYPERV socket of the process, keeps each non-blocking (FIONBIO) and
// waits on all of them at once with WSAPoll, so no call ever blocks a thread
// of Node's pool (koffi's `.async` would park a pool thread in each blocking
// accept or recv, and WSAGetLastError, which is per thread, could not be read
// after one). The main thread (transport.ts) talks to it over a MessagePort:
// commands in, events out, socket data as transferred ArrayBuffers. The
// messages are listed in messages.ts.
//
// Plain JavaScript, not TypeScript: a worker's entry file is loaded by Node
// itself, from src/ in the tests and from dist/ in the package, with no
// compiler in between (checkJs type-checks it; messages.ts holds its types).
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { declaredName } from '../../../../native-defs/function-def.js';
import { registerNativeTypes } from '../../../../native-defs/register.js';
import { WINSOCK, WS2_32, WSA } from '../../../../native-defs/ws2_32.js';

/** @typedef {import('./messages.js').WorkerSetup} WorkerSetup */
/** @typedef {import('./messages.js').Command} Command */
/** @typedef {import('./messages.js').WorkerEvent} WorkerEvent */
/** @typedef {import('./messages.js').WinsockFailure} WinsockFailure */
/** @typedef {import('./ws2-32.js').Socket} Socket */

/** recv's buffer: one per worker, copied out per read. */
const READ_SIZE = 64 * 1024;
/** Reads per socket per turn, so one busy stream cannot starve the others. */
const READS_PER_TURN = 4;

/**
 * @typedef {object} Listener
 * @property {Socket} s
 * @property {number[]} accepts request ids waiting for a connection, oldest first
 */

/**
 * @typedef {object} Stream
 * @property {Socket} s
 * @property {Buffer[]} out data not yet taken by send, oldest first
 * @property {boolean} reading until EOF (or an error)
 * @property {number} credit bytes it may still deliver: recv stops at 0 until the main thread grants more
 * @property {boolean} shutdownWanted end() was called: shutdown(SD_SEND) once `out` is empty
 * @property {boolean} broken an error was reported: nothing more is done but closesocket
 */

const given = /** @type {unknown} */ (workerData);
const setup = /** @type {WorkerSetup} */ (given);
const port = setup.port;
const bell = new Int32Array(setup.bell);

registerNativeTypes(koffi);
const lib = koffi.load(setup.library);
const ws = /** @type {import('./ws2-32.js').Winsock} */ (
  /** @type {unknown} */ (Object.fromEntries(WS2_32.functions.map((fn) => [declaredName(fn.decl), lib.func(fn.decl)])))
);

const SOCKET_SIZE = koffi.sizeof('SOCKET');
const INVALID_SOCKET = (1n << BigInt(8 * SOCKET_SIZE)) - 1n;
const POLLFD_SIZE = koffi.sizeof('WSAPOLLFD');
const POLLFD_FD = koffi.offsetof('WSAPOLLFD', 'fd');
const POLLFD_EVENTS = koffi.offsetof('WSAPOLLFD', 'events');
const POLLFD_REVENTS = koffi.offsetof('WSAPOLLFD', 'revents');
const { POLLRDNORM, POLLWRNORM, POLLERR, POLLHUP, POLLNVAL } = WINSOCK;

/** @type {Map<number, Listener>} */
const listeners = new Map();
/** @type {Map<number, Stream>} */
const streams = new Map();
let nextId = 1;
let stopping = false;
const readBuffer = Buffer.alloc(READ_SIZE);

/** @param {WorkerEvent} event @param {ArrayBuffer[]} [transfer] */
function post(event, transfer) {
  port.postMessage(event, transfer ?? []);
}

/** @param {string} call @returns {WinsockFailure} */
function lastError(call) {
  return { call, wsa: ws.WSAGetLastError() };
}

/** @param {Socket} s */
function invalid(s) {
  return BigInt(s) === INVALID_SOCKET;
}

/** @param {Socket} s @returns {WinsockFailure | undefined} */
function nonBlocking(s) {
  return ws.ioctlsocket(s, WINSOCK.FIONBIO, [1]) === WINSOCK.SOCKET_ERROR ? lastError('ioctlsocket') : undefined;
}

// ---- commands ----

/** @param {Extract<Command, { op: 'listen' }>} c */
function listen(c) {
  const s = ws.socket(WINSOCK.AF_HYPERV, WINSOCK.SOCK_STREAM, WINSOCK.HV_PROTOCOL_RAW);
  if (invalid(s)) return post({ ev: 'failed', req: c.req, error: lastError('socket') });
  /** @type {WinsockFailure | undefined} */
  let failure = nonBlocking(s);
  if (!failure && ws.bind(s, Buffer.from(c.address), c.address.byteLength) === WINSOCK.SOCKET_ERROR) failure = lastError('bind');
  if (!failure && ws.listen(s, WINSOCK.LISTEN_BACKLOG) === WINSOCK.SOCKET_ERROR) failure = lastError('listen');
  if (failure) {
    ws.closesocket(s);
    return post({ ev: 'failed', req: c.req, error: failure });
  }
  const lid = nextId++;
  listeners.set(lid, { s, accepts: [] });
  post({ ev: 'listening', req: c.req, lid });
}

/** @param {Command} c */
function handle(c) {
  switch (c.op) {
    case 'listen':
      return listen(c);
    case 'accept': {
      const l = listeners.get(c.lid);
      if (!l) return post({ ev: 'failed', req: c.req, error: { call: 'accept', closed: true } });
      l.accepts.push(c.req);
      acceptPending(l);
      return;
    }
    case 'unlisten': {
      const l = listeners.get(c.lid);
      if (!l) return;
      listeners.delete(c.lid);
      ws.closesocket(l.s);
      for (const req of l.accepts) post({ ev: 'failed', req, error: { call: 'accept', closed: true } });
      return;
    }
    case 'write': {
      const st = streams.get(c.sid);
      if (!st || st.broken) return; // the error (or the close) has been reported already
      st.out.push(Buffer.from(c.data));
      flush(c.sid, st);
      return;
    }
    case 'shutdown': {
      const st = streams.get(c.sid);
      if (!st || st.broken) return;
      st.shutdownWanted = true;
      flush(c.sid, st);
      return;
    }
    case 'grant': {
      const st = streams.get(c.sid);
      if (st) st.credit += c.bytes;
      return;
    }
    case 'close': {
      const st = streams.get(c.sid);
      if (!st) return;
      streams.delete(c.sid);
      ws.closesocket(st.s);
      return post({ ev: 'closed', sid: c.sid });
    }
    case 'stop':
      stopping = true;
      return;
  }
}

// ---- sockets ----

/**
 * Accept for as many waiting requests as there are connections; WSAEWOULDBLOCK means none yet.
 * Returns whether anything happened.
 * @param {Listener} l
 */
function acceptPending(l) {
  let progress = false;
  while (l.accepts.length > 0) {
    const s = ws.accept(l.s, null, null);
    if (invalid(s)) {
      const e = lastError('accept');
      if (e.wsa === WSA.EWOULDBLOCK) return progress;
      // A connection reset before it was taken is the dialler's loss, not the listener's.
      if (e.wsa === WSA.ECONNRESET || e.wsa === WSA.EINTR) continue;
      post({ ev: 'failed', req: /** @type {number} */ (l.accepts.shift()), error: e });
      return true;
    }
    progress = true;
    const req = /** @type {number} */ (l.accepts.shift());
    const failure = nonBlocking(s);
    if (failure) {
      ws.closesocket(s);
      post({ ev: 'failed', req, error: failure });
      continue;
    }
    const sid = nextId++;
    streams.set(sid, { s, out: [], reading: true, credit: setup.readWindow, shutdownWanted: false, broken: false });
    post({ ev: 'accepted', req, sid });
  }
  return progress;
}

/** @param {number} sid @param {Stream} st @param {WinsockFailure} error */
function fail(sid, st, error) {
  st.broken = true;
  st.out = [];
  post({ ev: 'error', sid, error });
}

/** Read what has arrived; EOF and WSAECONNABORTED (as hcsshim reads it) end the stream. Returns whether anything happened. @param {number} sid @param {Stream} st */
function readSome(sid, st) {
  for (let i = 0; i < READS_PER_TURN && st.credit > 0; i++) {
    const n = ws.recv(st.s, readBuffer, Math.min(READ_SIZE, st.credit), 0);
    if (n > 0) {
      st.credit -= n;
      const data = readBuffer.buffer.slice(readBuffer.byteOffset, readBuffer.byteOffset + n);
      post({ ev: 'data', sid, data }, [data]);
      continue;
    }
    if (n === 0) {
      st.reading = false;
      post({ ev: 'end', sid });
      return true;
    }
    const e = lastError('recv');
    if (e.wsa === WSA.EWOULDBLOCK || e.wsa === WSA.EINTR) return i > 0;
    if (e.wsa === WSA.ECONNABORTED) {
      st.reading = false;
      post({ ev: 'end', sid });
    } else {
      fail(sid, st, e);
    }
    return true;
  }
  return true;
}

/** Send what is queued, as far as the socket takes it; then the send shutdown if one is due. Returns whether anything happened. @param {number} sid @param {Stream} st */
function flush(sid, st) {
  let sent = 0;
  while (st.out.length > 0) {
    const chunk = /** @type {Buffer} */ (st.out[0]);
    const n = ws.send(st.s, chunk, chunk.length, 0);
    if (n === WINSOCK.SOCKET_ERROR) {
      const e = lastError('send');
      if (e.wsa === WSA.EWOULDBLOCK || e.wsa === WSA.EINTR) break;
      if (sent > 0) post({ ev: 'sent', sid, bytes: sent });
      fail(sid, st, e);
      return true;
    }
    sent += n;
    if (n < chunk.length) st.out[0] = chunk.subarray(n);
    else st.out.shift();
  }
  if (sent > 0) post({ ev: 'sent', sid, bytes: sent });
  if (st.out.length === 0 && st.shutdownWanted) {
    st.shutdownWanted = false;
    if (ws.shutdown(st.s, WINSOCK.SD_SEND) === WINSOCK.SOCKET_ERROR) {
      fail(sid, st, lastError('shutdown'));
      return true;
    }
    post({ ev: 'shut', sid });
    return true;
  }
  return sent > 0;
}

// ---- the loop ----

/** @typedef {{ kind: 'listener', id: number, l: Listener } | { kind: 'stream', id: number, st: Stream }} Polled */

/** The sockets that wait on something, and a WSAPOLLFD array for them. @returns {{ polled: Polled[], fds: Buffer }} */
function pollSet() {
  /** @type {Polled[]} */
  const polled = [];
  /** @type {number[]} */
  const events = [];
  for (const [id, l] of listeners) {
    if (l.accepts.length === 0) continue;
    polled.push({ kind: 'listener', id, l });
    events.push(POLLRDNORM);
  }
  for (const [id, st] of streams) {
    if (st.broken) continue;
    const ev = (st.reading && st.credit > 0 ? POLLRDNORM : 0) | (st.out.length > 0 ? POLLWRNORM : 0);
    if (ev === 0) continue;
    polled.push({ kind: 'stream', id, st });
    events.push(ev);
  }
  const fds = Buffer.alloc(polled.length * POLLFD_SIZE);
  polled.forEach((p, i) => {
    const s = BigInt(p.kind === 'listener' ? p.l.s : p.st.s);
    const at = i * POLLFD_SIZE;
    if (SOCKET_SIZE === 8) fds.writeBigUInt64LE(s, at + POLLFD_FD);
    else fds.writeUInt32LE(Number(s), at + POLLFD_FD);
    fds.writeInt16LE(/** @type {number} */ (events[i]), at + POLLFD_EVENTS);
  });
  return { polled, fds };
}

/** @param {Polled[]} polled @param {Buffer} fds */
function serve(polled, fds) {
  polled.forEach((p, i) => {
    const revents = fds.readUInt16LE(i * POLLFD_SIZE + POLLFD_REVENTS);
    if (revents === 0) return;
    if (p.kind === 'listener') {
      if (!listeners.has(p.id)) return;
      const progress = (revents & POLLNVAL) === 0 && acceptPending(p.l);
      // A listener in error that accept cannot clear would wake every poll from now on: its waiting accepts fail.
      if (!progress && (revents & (POLLERR | POLLHUP | POLLNVAL)) !== 0) {
        for (const req of p.l.accepts.splice(0)) post({ ev: 'failed', req, error: { call: 'WSAPoll', revents } });
      }
      return;
    }
    const st = p.st;
    if (!streams.has(p.id) || st.broken) return;
    if (revents & POLLNVAL) return fail(p.id, st, { call: 'WSAPoll', revents });
    const troubled = (revents & (POLLERR | POLLHUP)) !== 0;
    let progress = false;
    if (st.reading && st.credit > 0 && (revents & POLLRDNORM || troubled)) progress = readSome(p.id, st) || progress;
    if (!st.broken && st.out.length > 0 && (revents & POLLWRNORM || troubled)) progress = flush(p.id, st) || progress;
    // An error or hang-up that neither a recv nor a send turns into a result would wake every poll from now on.
    if (troubled && !progress && !st.broken) fail(p.id, st, { call: 'WSAPoll', revents });
  });
}

function drainCommands() {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const message = /** @type {unknown} */ (m.message);
    handle(/** @type {Command} */ (message));
  }
}

function run() {
  const started = ws.WSAStartup(WINSOCK.VERSION_2_2, Buffer.alloc(koffi.sizeof('WSADATA')));
  if (started !== 0) {
    post({ ev: 'fatal', error: { call: 'WSAStartup', wsa: started } });
    port.close();
    return;
  }
  post({ ev: 'ready' });
  while (!stopping) {
    // Read the bell before the queue: a command posted after this read rings it again, so a wait below returns at once.
    const rung = Atomics.load(bell, 0);
    drainCommands();
    if (stopping) break;
    const { polled, fds } = pollSet();
    if (polled.length === 0) {
      // WSAPoll refuses an empty set (WSAEINVAL); nothing can happen until the main thread asks for something.
      Atomics.wait(bell, 0, rung, setup.idleWaitMs);
      continue;
    }
    const n = ws.WSAPoll(fds, polled.length, setup.pollIntervalMs);
    if (n === WINSOCK.SOCKET_ERROR) {
      const e = lastError('WSAPoll');
      if (e.wsa !== WSA.EINTR) post({ ev: 'warning', error: e });
      Atomics.wait(bell, 0, rung, setup.pollIntervalMs); // no hot loop on a failure that repeats
      continue;
    }
    if (n > 0) serve(polled, fds);
  }
  for (const l of listeners.values()) {
    ws.closesocket(l.s);
    for (const req of l.accepts) post({ ev: 'failed', req, error: { call: 'accept', closed: true } });
  }
  for (const [sid, st] of streams) {
    ws.closesocket(st.s);
    post({ ev: 'closed', sid });
  }
  listeners.clear();
  streams.clear();
  ws.WSACleanup();
  post({ ev: 'stopped' });
  port.close();
}

run();
