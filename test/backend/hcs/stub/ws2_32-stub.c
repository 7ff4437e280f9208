/*
 * A stand-in for the ws2_32.dll functions in native-defs/ws2_32.js, built by
 * the tests on Linux into one library with computecore-stub.c (one call log,
 * in the order the calls happened across both). Same symbols and Win64
 * signatures, on unix-domain sockets:
 *   - bind(SOCKADDR_HV) binds `<root>/<VmId>_<ServiceId>`, the two GUIDs
 *     formatted back from the struct's bytes (so a wrong encoding is a wrong
 *     path), and the test plays the guest by connecting to that path;
 *   - Windows behaviour is kept where the worker depends on it: a per-thread
 *     WSAGetLastError; WSAPoll's Windows flag values, its refusal (WSAEINVAL)
 *     of any `events` bit but RDNORM/RDBAND/WRNORM and of a set with no valid
 *     socket; an accepted socket inheriting the listener's non-blocking mode;
 *     WSAEWOULDBLOCK for EAGAIN;
 *   - faults on demand: spurious WSAEWOULDBLOCK from accept/recv/send, a
 *     one-shot error from any call, short sends;
 *   - it counts the sockets open, WSAStartup/WSACleanup, WSAEWOULDBLOCKs, and
 *     which threads call it (all calls should come from one worker thread).
 * The real libc socket calls go through syscall(): this library exports
 * `socket`, `bind`, `send` … itself, with Winsock's signatures.
 * It is not Winsock: it checks the worker's use of the calls, nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

typedef uintptr_t SOCKET;
typedef struct { uint32_t Data1; uint16_t Data2, Data3; uint8_t Data4[8]; } GUID;
typedef struct { uint16_t Family, Reserved; GUID VmId, ServiceId; } SOCKADDR_HV;
typedef struct { SOCKET fd; int16_t events, revents; } WSAPOLLFD;
typedef struct { uint16_t wVersion, wHighVersion, iMaxSockets, iMaxUdpDg; char *lpVendorInfo; char szDescription[257], szSystemStatus[129]; } WSADATA;

#define INVALID_SOCKET (~(SOCKET)0)
#define SOCKET_ERROR (-1)
#define FIONBIO ((int32_t)0x8004667Eu)
#define W_POLLRDNORM 0x0100
#define W_POLLRDBAND 0x0200
#define W_POLLWRNORM 0x0010
#define W_POLLERR 0x0001
#define W_POLLHUP 0x0002
#define W_POLLNVAL 0x0004
/* Linux values, spelled out: <sys/socket.h> would declare socket() & co with libc's signatures. */
#define L_AF_UNIX 1
#define L_SOCK_STREAM 1
#define L_SOCK_NONBLOCK 04000
#define L_SOCK_CLOEXEC 02000000
#define L_MSG_NOSIGNAL 0x4000

enum { WSAEINTR = 10004, WSAEACCES = 10013, WSAEFAULT = 10014, WSAEINVAL = 10022, WSAEMFILE = 10024, WSAEWOULDBLOCK = 10035,
       WSAENOTSOCK = 10038, WSAEPROTONOSUPPORT = 10043, WSAESOCKTNOSUPPORT = 10044, WSAEAFNOSUPPORT = 10047, WSAEADDRINUSE = 10048,
       WSAEADDRNOTAVAIL = 10049, WSAECONNABORTED = 10053, WSAECONNRESET = 10054, WSAENOBUFS = 10055, WSAENOTCONN = 10057,
       WSAESHUTDOWN = 10058, WSANOTINITIALISED = 10093 };

#define MAXFD 4096

extern void stub_record(const char *fn, const char *a, const char *b, const char *c); /* computecore-stub.c */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static __thread int last_error;
static pthread_t loader;
static char root[200];
static unsigned char ours[MAXFD], nonblock[MAXFD], shut_wr[MAXFD], listening[MAXFD];
static char *names[MAXFD];
static long open_now, opened, startups, cleanups, would_blocks, polls, calls_on_loader;
static pthread_t threads[64]; static int nthreads;
static char wb_fn[32]; static int wb_count;
static char fault_fn[32]; static int fault_wsa;
static int max_send;

__attribute__((constructor)) static void init(void) { loader = pthread_self(); }

/* Every Winsock call notes its thread: the worker should be the only one. */
static void note_thread(void) {
  pthread_t me = pthread_self();
  pthread_mutex_lock(&mu);
  if (pthread_equal(me, loader)) calls_on_loader++;
  else {
    int known = 0;
    for (int i = 0; i < nthreads; i++) if (pthread_equal(threads[i], me)) known = 1;
    if (!known && nthreads < 64) threads[nthreads++] = me;
  }
  pthread_mutex_unlock(&mu);
}

static int fail_with(int wsa) { last_error = wsa; if (wsa == WSAEWOULDBLOCK) { pthread_mutex_lock(&mu); would_blocks++; pthread_mutex_unlock(&mu); } return SOCKET_ERROR; }

static int wsa_of(int e, int fd) {
  switch (e) {
    case EAGAIN: return WSAEWOULDBLOCK;
    case EINTR: return WSAEINTR;
    case EBADF: case ENOTSOCK: return WSAENOTSOCK;
    case EADDRINUSE: return WSAEADDRINUSE;
    case ENOENT: case EADDRNOTAVAIL: return WSAEADDRNOTAVAIL;
    case EACCES: case EPERM: return WSAEACCES;
    case ECONNRESET: return WSAECONNRESET;
    case ECONNABORTED: return WSAECONNABORTED;
    case ENOTCONN: return WSAENOTCONN;
    case EPIPE: return fd >= 0 && fd < MAXFD && shut_wr[fd] ? WSAESHUTDOWN : WSAECONNRESET;
    case EMFILE: case ENFILE: return WSAEMFILE;
    case ENOBUFS: case ENOMEM: return WSAENOBUFS;
    case EFAULT: return WSAEFAULT;
    default: return WSAEINVAL;
  }
}

/* A one-shot injected error, or a spurious WSAEWOULDBLOCK, for `fn`: nonzero if the call must fail with last_error set. */
static int injected(const char *fn) {
  pthread_mutex_lock(&mu);
  int code = 0;
  if (fault_fn[0] && !strcmp(fault_fn, fn)) { code = fault_wsa; fault_fn[0] = 0; }
  else if (wb_count > 0 && !strcmp(wb_fn, fn)) { wb_count--; code = WSAEWOULDBLOCK; }
  pthread_mutex_unlock(&mu);
  if (code) fail_with(code);
  return code;
}

static int our_fd(SOCKET s) { return s < MAXFD && ours[s] ? (int)s : -1; }

static void guid_str(const GUID *g, char out[37]) {
  snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2],
           g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
}

static void adopt(int fd, int nb) {
  pthread_mutex_lock(&mu);
  ours[fd] = 1; nonblock[fd] = nb; shut_wr[fd] = 0; listening[fd] = 0; free(names[fd]); names[fd] = NULL; open_now++; opened++;
  pthread_mutex_unlock(&mu);
}

int WSAStartup(uint16_t version, WSADATA *data) {
  note_thread();
  if (injected("WSAStartup")) return last_error;
  if (!data) return WSAEFAULT;
  memset(data, 0, sizeof *data);
  data->wVersion = version; data->wHighVersion = 0x0202;
  snprintf(data->szDescription, sizeof data->szDescription, "lcow-uvm ws2_32 stand-in");
  pthread_mutex_lock(&mu); startups++; pthread_mutex_unlock(&mu);
  stub_record("WSAStartup", NULL, NULL, NULL);
  return 0;
}

int WSACleanup(void) {
  note_thread();
  pthread_mutex_lock(&mu); int ok = cleanups < startups; if (ok) cleanups++; pthread_mutex_unlock(&mu);
  stub_record("WSACleanup", NULL, NULL, NULL);
  return ok ? 0 : fail_with(WSANOTINITIALISED);
}

int WSAGetLastError(void) { return last_error; }

SOCKET socket(int af, int type, int protocol) {
  note_thread();
  if (injected("socket")) return INVALID_SOCKET;
  if (af != 34) { fail_with(WSAEAFNOSUPPORT); return INVALID_SOCKET; }
  if (type != 1) { fail_with(WSAESOCKTNOSUPPORT); return INVALID_SOCKET; }
  if (protocol != 1) { fail_with(WSAEPROTONOSUPPORT); return INVALID_SOCKET; }
  long fd = syscall(SYS_socket, L_AF_UNIX, L_SOCK_STREAM | L_SOCK_CLOEXEC, 0);
  if (fd < 0) { fail_with(wsa_of(errno, -1)); return INVALID_SOCKET; }
  if (fd >= MAXFD) { close((int)fd); fail_with(WSAEMFILE); return INVALID_SOCKET; }
  adopt((int)fd, 0);
  return (SOCKET)fd;
}

int bind(SOCKET s, const SOCKADDR_HV *addr, int len) {
  note_thread();
  if (injected("bind")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  if (!addr || len != (int)sizeof(SOCKADDR_HV)) return fail_with(WSAEFAULT);
  if (addr->Family != 34) return fail_with(WSAEAFNOSUPPORT);
  if (addr->Reserved != 0) return fail_with(WSAEINVAL);
  char vm[37], svc[37], name[80];
  guid_str(&addr->VmId, vm); guid_str(&addr->ServiceId, svc);
  snprintf(name, sizeof name, "%s_%s", vm, svc);
  struct sockaddr_un un; memset(&un, 0, sizeof un); un.sun_family = L_AF_UNIX;
  if (snprintf(un.sun_path, sizeof un.sun_path, "%s/%s", root, name) >= (int)sizeof un.sun_path) return fail_with(WSAEFAULT);
  stub_record("bind", vm, svc, NULL);
  if (syscall(SYS_bind, fd, &un, sizeof un) < 0) return fail_with(wsa_of(errno, fd));
  pthread_mutex_lock(&mu); free(names[fd]); names[fd] = strdup(svc); pthread_mutex_unlock(&mu);
  return 0;
}

int listen(SOCKET s, int backlog) {
  note_thread();
  if (injected("listen")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  stub_record("listen", names[fd], NULL, NULL);
  if (syscall(SYS_listen, fd, backlog) < 0) return fail_with(wsa_of(errno, fd));
  listening[fd] = 1;
  return 0;
}

SOCKET accept(SOCKET s, void *addr, void *addrlen) {
  note_thread();
  if (injected("accept")) return INVALID_SOCKET;
  int fd = our_fd(s);
  if (fd < 0) { fail_with(WSAENOTSOCK); return INVALID_SOCKET; }
  if (addr || addrlen) { fail_with(WSAEFAULT); return INVALID_SOCKET; } /* the worker passes NULL, NULL */
  int nb = nonblock[fd];
  long c = syscall(SYS_accept4, fd, NULL, NULL, L_SOCK_CLOEXEC | (nb ? L_SOCK_NONBLOCK : 0));
  if (c < 0) { fail_with(wsa_of(errno, fd)); return INVALID_SOCKET; }
  if (c >= MAXFD) { close((int)c); fail_with(WSAEMFILE); return INVALID_SOCKET; }
  adopt((int)c, nb); /* Winsock: the accepted socket has the listener's properties, non-blocking mode included */
  pthread_mutex_lock(&mu); names[c] = names[fd] ? strdup(names[fd]) : NULL; pthread_mutex_unlock(&mu);
  stub_record("accept", names[c], NULL, NULL);
  return (SOCKET)c;
}

int recv(SOCKET s, void *buf, int len, int flags) {
  note_thread();
  if (injected("recv")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  long n = syscall(SYS_recvfrom, fd, buf, (size_t)len, flags, NULL, NULL);
  return n < 0 ? fail_with(wsa_of(errno, fd)) : (int)n;
}

int send(SOCKET s, const void *buf, int len, int flags) {
  note_thread();
  if (injected("send")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  if (max_send > 0 && len > max_send) len = max_send; /* a short send, as a full send buffer gives */
  long n = syscall(SYS_sendto, fd, buf, (size_t)len, flags | L_MSG_NOSIGNAL, NULL, 0);
  return n < 0 ? fail_with(wsa_of(errno, fd)) : (int)n;
}

int shutdown(SOCKET s, int how) {
  note_thread();
  if (injected("shutdown")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  stub_record("shutdown", names[fd], how == 1 ? "SD_SEND" : how == 0 ? "SD_RECEIVE" : "SD_BOTH", NULL);
  if (syscall(SYS_shutdown, fd, how) < 0) return fail_with(wsa_of(errno, fd)); /* SD_* and SHUT_* have the same values */
  if (how != 0) shut_wr[fd] = 1;
  return 0;
}

int closesocket(SOCKET s) {
  note_thread();
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  stub_record("closesocket", names[fd], listening[fd] ? "listener" : "stream", NULL);
  pthread_mutex_lock(&mu); ours[fd] = 0; free(names[fd]); names[fd] = NULL; open_now--; pthread_mutex_unlock(&mu);
  close(fd);
  return 0;
}

int ioctlsocket(SOCKET s, int32_t cmd, uint32_t *argp) {
  note_thread();
  if (injected("ioctlsocket")) return SOCKET_ERROR;
  int fd = our_fd(s);
  if (fd < 0) return fail_with(WSAENOTSOCK);
  if (cmd != FIONBIO || !argp) return fail_with(WSAEINVAL);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, *argp ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0) return fail_with(wsa_of(errno, fd));
  nonblock[fd] = *argp != 0;
  return 0;
}

int WSAPoll(WSAPOLLFD *fds, uint32_t n, int timeout) {
  note_thread();
  if (injected("WSAPoll")) return SOCKET_ERROR;
  pthread_mutex_lock(&mu); polls++; pthread_mutex_unlock(&mu);
  if (!fds || n == 0 || n > MAXFD) return fail_with(WSAEINVAL);
  struct pollfd *p = calloc(n, sizeof *p);
  int valid = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (fds[i].events & ~(W_POLLRDNORM | W_POLLRDBAND | W_POLLWRNORM)) { free(p); return fail_with(WSAEINVAL); }
    int fd = our_fd(fds[i].fd);
    p[i].fd = fd;
    if (fd >= 0) valid++;
    p[i].events = (fds[i].events & (W_POLLRDNORM | W_POLLRDBAND) ? POLLIN : 0) | (fds[i].events & W_POLLWRNORM ? POLLOUT : 0);
  }
  if (!valid) { free(p); return fail_with(WSAEINVAL); }
  int r = poll(p, n, timeout);
  if (r < 0) { int e = errno; free(p); return fail_with(wsa_of(e, -1)); }
  int ready = 0;
  for (uint32_t i = 0; i < n; i++) {
    short re = p[i].fd < 0 ? W_POLLNVAL : 0;
    if (p[i].revents & POLLIN) re |= fds[i].events & (W_POLLRDNORM | W_POLLRDBAND);
    if (p[i].revents & POLLOUT) re |= W_POLLWRNORM;
    if (p[i].revents & POLLERR) re |= W_POLLERR;
    if (p[i].revents & POLLHUP) re |= W_POLLHUP;
    if (p[i].revents & POLLNVAL) re |= W_POLLNVAL;
    fds[i].revents = re;
    if (re) ready++;
  }
  free(p);
  return ready;
}

/* ---------- control, for the tests ---------- */
void ws_stub_set_root(const char *dir) { snprintf(root, sizeof root, "%s", dir); }
void ws_stub_reset(void) {
  pthread_mutex_lock(&mu);
  opened = startups = cleanups = would_blocks = polls = calls_on_loader = 0; nthreads = 0;
  wb_fn[0] = 0; wb_count = 0; fault_fn[0] = 0; max_send = 0;
  pthread_mutex_unlock(&mu);
}
/* The next n calls of fn (accept, recv, send) return WSAEWOULDBLOCK without touching the socket. */
void ws_stub_would_block(const char *fn, int n) { pthread_mutex_lock(&mu); snprintf(wb_fn, sizeof wb_fn, "%s", fn); wb_count = n; pthread_mutex_unlock(&mu); }
/* The next call of fn fails with this Winsock error (WSAStartup returns it). */
void ws_stub_fail(const char *fn, int wsa) { pthread_mutex_lock(&mu); snprintf(fault_fn, sizeof fault_fn, "%s", fn); fault_wsa = wsa; pthread_mutex_unlock(&mu); }
void ws_stub_max_send(int bytes) { max_send = bytes; }
long ws_stub_counter(const char *name) {
  pthread_mutex_lock(&mu);
  long v = !strcmp(name, "open") ? open_now : !strcmp(name, "opened") ? opened : !strcmp(name, "startups") ? startups
         : !strcmp(name, "cleanups") ? cleanups : !strcmp(name, "wouldBlocks") ? would_blocks : !strcmp(name, "polls") ? polls
         : !strcmp(name, "callsOnLoader") ? calls_on_loader : !strcmp(name, "threads") ? nthreads : -1;
  pthread_mutex_unlock(&mu);
  return v;
}
/* The C compiler's layout, for comparison with koffi's. */
long ws_stub_layout(const char *what) {
  if (!strcmp(what, "SOCKADDR_HV")) return sizeof(SOCKADDR_HV);
  if (!strcmp(what, "SOCKADDR_HV.VmId")) return offsetof(SOCKADDR_HV, VmId);
  if (!strcmp(what, "SOCKADDR_HV.ServiceId")) return offsetof(SOCKADDR_HV, ServiceId);
  if (!strcmp(what, "WSAPOLLFD")) return sizeof(WSAPOLLFD);
  if (!strcmp(what, "WSAPOLLFD.events")) return offsetof(WSAPOLLFD, events);
  if (!strcmp(what, "WSAPOLLFD.revents")) return offsetof(WSAPOLLFD, revents);
  if (!strcmp(what, "WSADATA")) return sizeof(WSADATA);
  if (!strcmp(what, "WSADATA.lpVendorInfo")) return offsetof(WSADATA, lpVendorInfo);
  return -1;
}
