// ws2_32.dll (Winsock 2): the AF_HYPERV sockets that carry the GCS bridge,
// process stdio, entropy and guest logs between the host and an LCOW utility
// VM. Called only by the hvsock worker thread
// (src/backend/hcs/hvsock/worker.js), synchronously: WSAGetLastError is per
// thread, so it is read on the thread that made the failing call, at once.
// Sources: MicrosoftDocs make-integration-service.md, go-winio hvsock.go,
// winsock2.h. Win64 types: SOCKET is UINT_PTR; `long` and `u_long` are
// 32-bit on Windows, so ioctlsocket takes int32_t/uint32_t (never `long`,
// which is 64-bit on Linux).

/** @type {import('./function-def.js').LibraryDef} */
export const WS2_32 = {
  library: 'ws2_32.dll',
  functions: [
    { decl: 'int __stdcall WSAStartup(WORD versionRequested, _Out_ WSADATA *data)' },
    { decl: 'int __stdcall WSACleanup(void)' },
    { decl: 'int __stdcall WSAGetLastError(void)' },
    { decl: 'SOCKET __stdcall socket(int af, int type, int protocol)' },
    { decl: 'int __stdcall bind(SOCKET s, const SOCKADDR_HV *name, int namelen)' },
    { decl: 'int __stdcall listen(SOCKET s, int backlog)' },
    // addr and addrlen are NULL here: the peer of an hvsock listener is always its VM.
    { decl: 'SOCKET __stdcall accept(SOCKET s, void *addr, void *addrlen)' },
    // buf is a Buffer the caller owns; koffi passes its memory as it is.
    { decl: 'int __stdcall recv(SOCKET s, void *buf, int len, int flags)' },
    { decl: 'int __stdcall send(SOCKET s, const void *buf, int len, int flags)' },
    { decl: 'int __stdcall shutdown(SOCKET s, int how)' },
    { decl: 'int __stdcall closesocket(SOCKET s)' },
    { decl: 'int __stdcall ioctlsocket(SOCKET s, int32_t cmd, _Inout_ uint32_t *argp)' },
    // fdArray is a Buffer of WSAPOLLFD entries, read back after the call.
    { decl: 'int __stdcall WSAPoll(void *fdArray, ULONG fds, int timeout)' },
  ],
};

/** Winsock constants used with these functions (winsock2.h, ws2def.h, hvsocket.h). */
export const WINSOCK = {
  /** WSAStartup's version 2.2. */
  VERSION_2_2: 0x0202,
  AF_HYPERV: 34,
  SOCK_STREAM: 1,
  HV_PROTOCOL_RAW: 1,
  SOCKET_ERROR: -1,
  /** hcsshim's (go-winio's) backlog for hvsock listeners. */
  LISTEN_BACKLOG: 16,
  SD_SEND: 1,
  /** _IOW('f', 126, u_long), as the int32 the declaration takes. */
  FIONBIO: 0x8004667e | 0,
  // WSAPoll: `events` may hold only POLLRDNORM, POLLRDBAND and POLLWRNORM; ERR, HUP and NVAL are reported in `revents` unasked.
  POLLRDNORM: 0x0100,
  POLLWRNORM: 0x0010,
  POLLERR: 0x0001,
  POLLHUP: 0x0002,
  POLLNVAL: 0x0004,
};

/** The Winsock errors these calls return, by WSAGetLastError code (winerror.h). */
export const WSA_ERRORS = {
  10004: 'WSAEINTR',
  10009: 'WSAEBADF',
  10013: 'WSAEACCES',
  10014: 'WSAEFAULT',
  10022: 'WSAEINVAL',
  10024: 'WSAEMFILE',
  10035: 'WSAEWOULDBLOCK',
  10036: 'WSAEINPROGRESS',
  10038: 'WSAENOTSOCK',
  10040: 'WSAEMSGSIZE',
  10043: 'WSAEPROTONOSUPPORT',
  10044: 'WSAESOCKTNOSUPPORT',
  10045: 'WSAEOPNOTSUPP',
  10047: 'WSAEAFNOSUPPORT',
  10048: 'WSAEADDRINUSE',
  10049: 'WSAEADDRNOTAVAIL',
  10050: 'WSAENETDOWN',
  10052: 'WSAENETRESET',
  10053: 'WSAECONNABORTED',
  10054: 'WSAECONNRESET',
  10055: 'WSAENOBUFS',
  10057: 'WSAENOTCONN',
  10058: 'WSAESHUTDOWN',
  10060: 'WSAETIMEDOUT',
  10061: 'WSAECONNREFUSED',
  10091: 'WSASYSNOTREADY',
  10092: 'WSAVERNOTSUPPORTED',
  10093: 'WSANOTINITIALISED',
};

/** The codes the worker acts on. */
export const WSA = {
  EINTR: 10004,
  EWOULDBLOCK: 10035,
  ECONNABORTED: 10053,
  ECONNRESET: 10054,
};
