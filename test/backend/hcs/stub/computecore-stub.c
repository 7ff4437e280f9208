/*
 * A stand-in for computecore.dll (plus the kernel32 and virtdisk exports the
 * backend uses), built by the tests on Linux. Same symbols and signatures
 * (PCWSTR = const uint16_t *), so the real TypeScript backend drives it
 * through koffi exactly as it would drive HCS. It:
 *   - records every call with its UTF-16 arguments decoded to UTF-8 (JSON lines);
 *   - completes operations from threads of its own (pthread) after a delay,
 *     calling the registered HCS_OPERATION_COMPLETION, and fires HCS_EVENT
 *     callbacks (SystemExited) from its threads too;
 *   - returns result documents allocated here, freed by its LocalFree, and
 *     counts both so the tests can match allocations against frees;
 *   - records protocol violations (an operation closed before it completed,
 *     a result read after close, a callback for a closed operation);
 *   - reports a RuntimeId per compute system in its properties document.
 * Built into one library with ws2_32-stub.c, which logs through stub_record.
 * It is not HCS: it checks marshalling and the call protocol, nothing else.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef uint16_t WCHAR;
typedef int32_t HRESULT;
typedef uint32_t DWORD;
typedef int32_t BOOL;

#define S_OK 0
#define E_ABORT ((HRESULT)0x80004004u)
#define HCS_E_OPERATION_TIMEOUT ((HRESULT)0x80370118u)

typedef struct { uint32_t Data1; uint16_t Data2, Data3; uint8_t Data4[8]; } GUID;
typedef struct { uint32_t Type; const WCHAR *EventData; void *Operation; } HCS_EVENT;
typedef struct { uint32_t DeviceId; GUID VendorId; } VIRTUAL_STORAGE_TYPE;
typedef struct {
  uint32_t Version;
  struct {
    GUID UniqueId; uint64_t MaximumSize; uint32_t BlockSizeInBytes, SectorSizeInBytes, PhysicalSectorSizeInBytes;
    const WCHAR *ParentPath, *SourcePath; uint32_t OpenFlags;
    VIRTUAL_STORAGE_TYPE ParentVirtualStorageType, SourceVirtualStorageType; GUID ResiliencyGuid;
  } Version2;
} CREATE_VIRTUAL_DISK_PARAMETERS;

typedef void (*COMPLETION)(void *op, void *ctx);
typedef void (*EVENTCB)(HCS_EVENT *ev, void *ctx);

typedef struct Op {
  void *ctx; COMPLETION cb; int started, completed, closed;
  HRESULT hr; char *result; int hang;
} Op;
/* runtime_id: the VM GUID HCS reports as RuntimeId, the VmId of the VM's hvsock addresses. */
typedef struct Sys { char id[512]; char runtime_id[40]; void *ctx; EVENTCB cb; int exited; } Sys;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t main_thread;
static char *log_buf; static size_t log_len, log_cap;
static char *log_snapshot;
static long allocs, frees, violations, cancels, ops_created, ops_closed, foreign_callbacks, systems_closed;
static int delay_ms = 5;
static char hang_fn[128];
static char fail_fn[128]; static HRESULT fail_hr; static int fail_async; static char fail_doc[512];
static Sys *last_sys;
static int systems_created;

__attribute__((constructor)) static void init(void) { main_thread = pthread_self(); }

/* ---------- strings ---------- */
static void append(const char *s, size_t n) {
  if (log_len + n + 1 > log_cap) { log_cap = (log_len + n + 1) * 2; log_buf = realloc(log_buf, log_cap); }
  memcpy(log_buf + log_len, s, n); log_len += n; log_buf[log_len] = 0;
}
static char *utf8_of(const WCHAR *w) {
  if (!w) return NULL;
  size_t n = 0; while (w[n]) n++;
  char *o = malloc(n * 4 + 1), *p = o;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = w[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && w[i + 1] >= 0xDC00 && w[i + 1] < 0xE000) { c = 0x10000 + ((c - 0xD800) << 10) + (w[i + 1] - 0xDC00); i++; }
    if (c < 0x80) *p++ = (char)c;
    else if (c < 0x800) { *p++ = 0xC0 | (c >> 6); *p++ = 0x80 | (c & 63); }
    else if (c < 0x10000) { *p++ = 0xE0 | (c >> 12); *p++ = 0x80 | ((c >> 6) & 63); *p++ = 0x80 | (c & 63); }
    else { *p++ = 0xF0 | (c >> 18); *p++ = 0x80 | ((c >> 12) & 63); *p++ = 0x80 | ((c >> 6) & 63); *p++ = 0x80 | (c & 63); }
  }
  *p = 0; return o;
}
/* UTF-8 → a new UTF-16 string (not counted: event data stays owned by the library). */
static WCHAR *to_wide(const char *u) {
  size_t n = strlen(u); WCHAR *w = malloc((n + 1) * 2), *p = w;
  for (size_t i = 0; i < n;) {
    unsigned char c = u[i]; uint32_t cp; int len;
    if (c < 0x80) { cp = c; len = 1; } else if ((c >> 5) == 6) { cp = c & 31; len = 2; } else if ((c >> 4) == 14) { cp = c & 15; len = 3; } else { cp = c & 7; len = 4; }
    for (int k = 1; k < len; k++) cp = (cp << 6) | (u[i + k] & 63);
    i += len;
    if (cp >= 0x10000) { cp -= 0x10000; *p++ = 0xD800 + (cp >> 10); *p++ = 0xDC00 + (cp & 0x3FF); } else *p++ = (WCHAR)cp;
  }
  *p = 0;
  return w;
}
/* A result string the way HCS hands one out: allocated here, counted, freed by the caller with LocalFree. */
static WCHAR *alloc_wide(const char *u) {
  WCHAR *w = to_wide(u);
  pthread_mutex_lock(&mu); allocs++; pthread_mutex_unlock(&mu);
  return w;
}
static void json_str(const char *s) {
  if (!s) { append("null", 4); return; }
  append("\"", 1);
  for (; *s; s++) {
    char e[8];
    if (*s == '"' || *s == '\\') { e[0] = '\\'; e[1] = *s; append(e, 2); }
    else if ((unsigned char)*s < 0x20) { snprintf(e, sizeof e, "\\u%04x", *s); append(e, 6); }
    else append(s, 1);
  }
  append("\"", 1);
}
/* Record one call: fn + up to 3 UTF-8 args (already decoded), one JSON line. */
static void record(const char *fn, const char *a, const char *b, const char *c) {
  pthread_mutex_lock(&mu);
  append("{\"fn\":", 6); json_str(fn); append(",\"args\":[", 9);
  json_str(a); append(",", 1); json_str(b); append(",", 1); json_str(c); append("]}\n", 3);
  pthread_mutex_unlock(&mu);
}
/* The same log for ws2_32-stub.c, built into this library with it: one order across HCS and Winsock calls. */
void stub_record(const char *fn, const char *a, const char *b, const char *c) { record(fn, a, b, c); }
static void record_w(const char *fn, const WCHAR *a, const WCHAR *b) {
  char *ua = utf8_of(a), *ub = utf8_of(b); record(fn, ua, ub, NULL); free(ua); free(ub);
}

/* ---------- operations ---------- */
typedef struct { Op *op; HRESULT hr; char *result; int delay; } Job;
static void msleep(int ms) { struct timespec t = { ms / 1000, (ms % 1000) * 1000000L }; nanosleep(&t, NULL); }
static void fire_completion(Op *op) {
  if (op->closed) { pthread_mutex_lock(&mu); violations++; pthread_mutex_unlock(&mu); return; }
  if (!pthread_equal(pthread_self(), main_thread)) { pthread_mutex_lock(&mu); foreign_callbacks++; pthread_mutex_unlock(&mu); }
  if (op->cb) op->cb(op, op->ctx);
}
static void *completer(void *arg) {
  Job *j = arg; msleep(j->delay);
  pthread_mutex_lock(&mu);
  int skip = j->op->completed; /* cancelled meanwhile */
  if (!skip) { j->op->completed = 1; j->op->hr = j->hr; j->op->result = j->result; pthread_cond_broadcast(&cv); }
  pthread_mutex_unlock(&mu);
  if (!skip) fire_completion(j->op); else free(j->result);
  free(j); return NULL;
}
static void complete_later(Op *op, HRESULT hr, const char *result, int delay) {
  Job *j = malloc(sizeof *j); j->op = op; j->hr = hr; j->result = result ? strdup(result) : NULL; j->delay = delay;
  pthread_t t; pthread_create(&t, NULL, completer, j); pthread_detach(t);
}
/* Start an operation for `fn`: injected failure (immediate or at completion), hang, or success. */
static HRESULT start(const char *fn, Op *op, const char *result) {
  if (fail_fn[0] && !strcmp(fail_fn, fn)) {
    if (!fail_async) return fail_hr;
    op->started = 1;
    complete_later(op, fail_hr, fail_doc[0] ? fail_doc : NULL, delay_ms); return S_OK;
  }
  op->started = 1;
  if (hang_fn[0] && !strcmp(hang_fn, fn)) { op->hang = 1; return S_OK; }
  complete_later(op, S_OK, result, delay_ms);
  return S_OK;
}

void *HcsCreateOperation(void *context, COMPLETION callback) {
  Op *op = calloc(1, sizeof *op); op->ctx = context; op->cb = callback;
  pthread_mutex_lock(&mu); ops_created++; pthread_mutex_unlock(&mu);
  return op;
}
void HcsCloseOperation(Op *op) {
  pthread_mutex_lock(&mu);
  if ((op->started && !op->completed) || op->closed) violations++; /* closing a never-started op is fine */
  op->closed = 1; ops_closed++;
  pthread_mutex_unlock(&mu);
}
static HRESULT wait_result(Op *op, DWORD timeout, void **doc) {
  pthread_mutex_lock(&mu);
  if (op->closed) violations++;
  if (!op->completed && timeout) {
    struct timespec t; clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += timeout / 1000; t.tv_nsec += (timeout % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) { t.tv_sec++; t.tv_nsec -= 1000000000L; }
    while (!op->completed && pthread_cond_timedwait(&cv, &mu, &t) != ETIMEDOUT) {}
  }
  int done = op->completed; HRESULT hr = op->hr; char *res = op->result;
  pthread_mutex_unlock(&mu);
  if (!done) return HCS_E_OPERATION_TIMEOUT;
  if (doc) *doc = res ? alloc_wide(res) : NULL;
  return hr;
}
HRESULT HcsWaitForOperationResult(Op *op, DWORD timeout, void **doc) { return wait_result(op, timeout, doc); }
HRESULT HcsSetOperationCallback(Op *op, void *ctx, COMPLETION cb) { op->ctx = ctx; op->cb = cb; return S_OK; }
HRESULT HcsCancelOperation(Op *op) {
  record("HcsCancelOperation", NULL, NULL, NULL);
  pthread_mutex_lock(&mu); cancels++; int done = op->completed; pthread_mutex_unlock(&mu);
  if (!done) complete_later(op, E_ABORT, NULL, 1);
  return S_OK;
}

/* ---------- compute systems ---------- */
HRESULT HcsCreateComputeSystem(const WCHAR *id, const WCHAR *config, Op *op, void *sd, Sys **out) {
  record_w("HcsCreateComputeSystem", id, config);
  if (fail_fn[0] && !strcmp(fail_fn, "HcsCreateComputeSystem") && !fail_async) return fail_hr;
  Sys *s = calloc(1, sizeof *s); char *u = utf8_of(id); snprintf(s->id, sizeof s->id, "%s", u); free(u);
  /* Distinct bytes in every GUID field, so a wrong byte order in the host's SOCKADDR_HV shows as a wrong address. */
  pthread_mutex_lock(&mu); int n = ++systems_created; pthread_mutex_unlock(&mu);
  snprintf(s->runtime_id, sizeof s->runtime_id, "%08x-5e1f-4c0d-9a7b-%012llx", 0xc0ffee00u + n, 0x0123456789ULL + n);
  last_sys = s; *out = s;
  return start("HcsCreateComputeSystem", op, NULL);
}
HRESULT HcsOpenComputeSystem(const WCHAR *id, DWORD access, Sys **out) { record_w("HcsOpenComputeSystem", id, NULL); *out = last_sys; return S_OK; }
void HcsCloseComputeSystem(Sys *s) { record("HcsCloseComputeSystem", s->id, NULL, NULL); pthread_mutex_lock(&mu); systems_closed++; pthread_mutex_unlock(&mu); }
HRESULT HcsStartComputeSystem(Sys *s, Op *op, const WCHAR *opts) { record("HcsStartComputeSystem", s->id, NULL, NULL); return start("HcsStartComputeSystem", op, NULL); }
HRESULT HcsShutDownComputeSystem(Sys *s, Op *op, const WCHAR *opts) { record("HcsShutDownComputeSystem", s->id, NULL, NULL); return start("HcsShutDownComputeSystem", op, NULL); }

static void *exiter(void *arg) {
  Sys *s = arg; msleep(delay_ms);
  if (!s->cb) return NULL;
  WCHAR *data = to_wide("{\"ExitType\":\"Terminated\"}");
  HCS_EVENT ev = { 1, data, NULL };
  pthread_mutex_lock(&mu); if (!pthread_equal(pthread_self(), main_thread)) foreign_callbacks++; pthread_mutex_unlock(&mu);
  s->cb(&ev, s->ctx);
  free(data); /* event data is the library's: valid only during the callback */
  return NULL;
}
static void fire_exit(Sys *s) {
  pthread_mutex_lock(&mu); int was = s->exited; s->exited = 1; pthread_mutex_unlock(&mu);
  if (was) return;
  pthread_t t; pthread_create(&t, NULL, exiter, s); pthread_detach(t);
}
HRESULT HcsTerminateComputeSystem(Sys *s, Op *op, const WCHAR *opts) {
  record("HcsTerminateComputeSystem", s->id, NULL, NULL);
  HRESULT hr = start("HcsTerminateComputeSystem", op, NULL);
  if (hr == S_OK) fire_exit(s);
  return hr;
}
HRESULT HcsModifyComputeSystem(Sys *s, Op *op, const WCHAR *config, void *identity) {
  char *u = utf8_of(config); record("HcsModifyComputeSystem", s->id, u, NULL); free(u);
  return start("HcsModifyComputeSystem", op, NULL);
}
HRESULT HcsGetComputeSystemProperties(Sys *s, Op *op, const WCHAR *query) {
  record("HcsGetComputeSystemProperties", s->id, NULL, NULL);
  char doc[800];
  snprintf(doc, sizeof doc, "{\"Id\":\"%s\",\"RuntimeId\":\"%s\",\"State\":\"Running\",\"SystemType\":\"VirtualMachine\"}", s->id, s->runtime_id);
  return start("HcsGetComputeSystemProperties", op, doc);
}
HRESULT HcsSetComputeSystemCallback(Sys *s, DWORD options, void *ctx, EVENTCB cb) {
  char o[16]; snprintf(o, sizeof o, "%u", options); record("HcsSetComputeSystemCallback", s->id, o, NULL);
  s->ctx = ctx; s->cb = cb; return S_OK;
}
HRESULT HcsEnumerateComputeSystems(const WCHAR *query, Op *op) { record_w("HcsEnumerateComputeSystems", query, NULL); return start("HcsEnumerateComputeSystems", op, "[]"); }
HRESULT HcsGrantVmAccess(const WCHAR *vmId, const WCHAR *path) {
  record_w("HcsGrantVmAccess", vmId, path);
  if (fail_fn[0] && !strcmp(fail_fn, "HcsGrantVmAccess")) return fail_hr;
  return S_OK;
}

/* ---------- kernel32 ---------- */
void *LocalFree(void *mem) { if (mem) { free(mem); pthread_mutex_lock(&mu); frees++; pthread_mutex_unlock(&mu); } return NULL; }
BOOL CloseHandle(void *h) { return close((int)(intptr_t)h) == 0; }

/* ---------- virtdisk ---------- */
DWORD CreateVirtualDisk(VIRTUAL_STORAGE_TYPE *vst, const WCHAR *path, DWORD mask, void *sd, DWORD flags, DWORD psf,
                        CREATE_VIRTUAL_DISK_PARAMETERS *p, void *ov, void **handle) {
  char *u = utf8_of(path), d[256];
  snprintf(d, sizeof d, "device=%u mask=%u flags=%u version=%u max=%llu block=%u sector=%u parent=%s", vst->DeviceId, mask, flags, p->Version,
           (unsigned long long)p->Version2.MaximumSize, p->Version2.BlockSizeInBytes, p->Version2.SectorSizeInBytes, p->Version2.ParentPath ? "set" : "null");
  record("CreateVirtualDisk", u, d, NULL); free(u);
  *handle = (void *)(intptr_t)dup(2);
  return 0;
}
DWORD OpenVirtualDisk(VIRTUAL_STORAGE_TYPE *vst, const WCHAR *path, DWORD mask, DWORD flags, void *params, void **handle) { return 50; }
DWORD AttachVirtualDisk(void *h, void *sd, DWORD flags, DWORD psf, void *params, void *ov) { return 50; }
DWORD DetachVirtualDisk(void *h, DWORD flags, DWORD psf) { return 50; }
DWORD GetVirtualDiskPhysicalPath(void *h, uint32_t *size, void *buf) { return 50; }

/* ---------- control, for the tests ---------- */
const char *stub_log(void) { pthread_mutex_lock(&mu); free(log_snapshot); log_snapshot = strdup(log_buf ? log_buf : ""); pthread_mutex_unlock(&mu); return log_snapshot; }
void stub_reset(void) {
  pthread_mutex_lock(&mu);
  log_len = 0; if (log_buf) log_buf[0] = 0;
  allocs = frees = violations = cancels = ops_created = ops_closed = foreign_callbacks = systems_closed = 0;
  delay_ms = 5; hang_fn[0] = 0; fail_fn[0] = 0; fail_doc[0] = 0;
  pthread_mutex_unlock(&mu);
}
long stub_counter(const char *name) {
  pthread_mutex_lock(&mu);
  long v = !strcmp(name, "allocs") ? allocs : !strcmp(name, "frees") ? frees : !strcmp(name, "violations") ? violations
         : !strcmp(name, "cancels") ? cancels : !strcmp(name, "opsCreated") ? ops_created : !strcmp(name, "opsClosed") ? ops_closed
         : !strcmp(name, "foreignCallbacks") ? foreign_callbacks : !strcmp(name, "systemsClosed") ? systems_closed : -1;
  pthread_mutex_unlock(&mu);
  return v;
}
void stub_set_delay(int ms) { delay_ms = ms; }
/* Stop injecting failures and hangs; keeps the counters (operations may still be in flight). */
void stub_clear_faults(void) { pthread_mutex_lock(&mu); hang_fn[0] = 0; fail_fn[0] = 0; fail_doc[0] = 0; pthread_mutex_unlock(&mu); }
void stub_hang(const char *fn) { snprintf(hang_fn, sizeof hang_fn, "%s", fn); }
void stub_fail(const char *fn, int32_t hr, int async, const char *doc) {
  snprintf(fail_fn, sizeof fail_fn, "%s", fn); fail_hr = hr; fail_async = async; snprintf(fail_doc, sizeof fail_doc, "%s", doc ? doc : "");
}
void stub_fire_exit(void) { if (last_sys) fire_exit(last_sys); }
/* The C compiler's layout, for comparison with koffi's. */
long stub_layout(const char *what) {
  if (!strcmp(what, "HCS_EVENT")) return sizeof(HCS_EVENT);
  if (!strcmp(what, "HCS_EVENT.Operation")) return offsetof(HCS_EVENT, Operation);
  if (!strcmp(what, "VIRTUAL_STORAGE_TYPE")) return sizeof(VIRTUAL_STORAGE_TYPE);
  if (!strcmp(what, "CREATE_VIRTUAL_DISK_PARAMETERS")) return sizeof(CREATE_VIRTUAL_DISK_PARAMETERS);
  if (!strcmp(what, "CREATE.ResiliencyGuid")) return offsetof(CREATE_VIRTUAL_DISK_PARAMETERS, Version2.ResiliencyGuid);
  if (!strcmp(what, "CREATE.SourcePath")) return offsetof(CREATE_VIRTUAL_DISK_PARAMETERS, Version2.SourcePath);
  return -1;
}
