/* stub.c - the rocketnet preload stub.
 *
 * A plain C shared object, built once per C library and machine by
 * c_stub/build_preload.py (shim/preload/rocketnet-<arch>-<libc>.so) and LD_PRELOADed
 * into unmodified programs.  Nothing of Python in it.
 *
 * Model (docs: /work/shared/ARCHITECTURE.md section 2, wire protocol: rn_protocol.h):
 * a shim socket is the app end "A" of an AF_UNIX socket pair whose other end the
 * stack host holds.  The stub recognises A by its abstract name + SO_PEERCRED and
 * turns the control calls (bind, listen, connect, get/setsockopt, ...) into short
 * RPCs on a per-process SOCK_SEQPACKET control connection kept at a high fd.  Data
 * calls (read/write/send/recv...) go natively to A; they are intercepted only to
 * strip addresses (sendto/sendmsg) and for tracing (ROCKETNET_TRACE).
 *
 * Design choices worth knowing:
 * - Interposers are defined under private C names bound to the libc symbol with an
 *   asm label (e.g. rn_socket -> "socket"), so the TU never redefines the glibc
 *   prototypes (transparent-union sockaddr args, _FORTIFY_SOURCE inlines).
 * - The stub never calls its own interposers: internal I/O uses the real functions
 *   resolved with dlsym(RTLD_NEXT).
 * - Fork: the control connection is re-made when getpid() changes.  In the child
 *   the parent's connection is forgotten; it is closed only if it is one the stub
 *   made itself and the fd still refers to it (same st_ino); the adopted
 *   ROCKETNET_CTL_FD copy is never closed in a child (it is FD_CLOEXEC at a high
 *   number, so exec drops it).
 * - New control connections (fork child, exec'd image, after setuid/seteuid) are made
 *   through the inherited dialer (ROCKETNET_DIALER_FD, rn_dial) when there is one, so
 *   a process that dropped privileges keeps its stack; else by connecting to ctl.sock.
 * - vfork is not handled specially: a vfork child that makes socket calls before
 *   exec would make its own connection in the shared memory; the parent then
 *   notices the pid mismatch and reconnects (its old connection leaks).
 * - An RPC issued from a signal handler that interrupted an RPC of the same thread
 *   fails with EINTR instead of deadlocking.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/if_alg.h>

#include "rn_protocol.h"

/* The stub's own fcntl and poll calls go to libc's, never to the tracing interposers
 * (trace.c).  Every fcntl the stub makes passes an int or nothing (then 0). */
static int rn_libc_fcntl(int fd, int cmd, ...);
static int rn_libc_poll(struct pollfd *fds, nfds_t n, int timeout);
#define fcntl(...) rn_libc_fcntl(__VA_ARGS__, 0)
#define poll rn_libc_poll

#define RN_EXPORT __attribute__((visibility("default")))
#define RN_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------------------ */
/* Real functions                                                            */

typedef int (*f_socket_t)(int, int, int);
typedef int (*f_addr_in_t)(int, const struct sockaddr *, socklen_t);
typedef int (*f_int_int_t)(int, int);
typedef int (*f_addr_out_t)(int, struct sockaddr *, socklen_t *);
typedef int (*f_accept4_t)(int, struct sockaddr *, socklen_t *, int);
typedef int (*f_getsockopt_t)(int, int, int, void *, socklen_t *);
typedef int (*f_setsockopt_t)(int, int, int, const void *, socklen_t);
typedef ssize_t (*f_send_t)(int, const void *, size_t, int);
typedef ssize_t (*f_recv_t)(int, void *, size_t, int);
typedef ssize_t (*f_sendto_t)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*f_recvfrom_t)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*f_sendmsg_t)(int, const struct msghdr *, int);
typedef ssize_t (*f_recvmsg_t)(int, struct msghdr *, int);
typedef ssize_t (*f_read_t)(int, void *, size_t);
typedef ssize_t (*f_write_t)(int, const void *, size_t);
typedef ssize_t (*f_iov_t)(int, const struct iovec *, int);
typedef int (*f_close_t)(int);
typedef long (*f_syscall_t)(long, ...);
typedef int (*f_socketpair_t)(int, int, int, int *);

enum {
    R_socket, R_bind, R_listen, R_connect, R_accept, R_accept4, R_getsockname,
    R_getpeername, R_getsockopt, R_setsockopt, R_shutdown, R_send, R_recv, R_sendto,
    R_recvfrom, R_sendmsg, R_recvmsg, R_read, R_write, R_readv, R_writev, R_close,
    R_syscall, R_socketpair, R_COUNT
};
static const char *const rn_real_names[R_COUNT] = {
    "socket", "bind", "listen", "connect", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "recv", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "read", "write", "readv", "writev", "close",
    "syscall", "socketpair",
};
static void *rn_real_ptr[R_COUNT];

static void *rn_resolve(int i)
{
    void *p = __atomic_load_n(&rn_real_ptr[i], __ATOMIC_ACQUIRE);
    if (RN_UNLIKELY(p == NULL)) {
        p = dlsym(RTLD_NEXT, rn_real_names[i]);
        if (p == NULL) /* should not happen; fall back to the default lookup */
            p = dlsym(RTLD_DEFAULT, rn_real_names[i]);
        __atomic_store_n(&rn_real_ptr[i], p, __ATOMIC_RELEASE);
    }
    return p;
}
#define REAL(name) ((f_##name##_t)rn_resolve(R_##name))

/* The other libc calls the stub forwards, each with its slot; all are resolved at load
 * (rn_resolve_all), so no interposer calls dlsym (not async-signal-safe) later.  An
 * interposer called before our constructor resolves its own. */
static void *rn_sym(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (RN_UNLIKELY(p == NULL)) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
static void rn_resolve_all(void); /* at the end: it names every slot */
/* aliases so REAL(x) finds a typedef for every name */
typedef f_addr_in_t f_bind_t;
typedef f_int_int_t f_listen_t;
typedef f_addr_in_t f_connect_t;
typedef f_addr_out_t f_accept_t;
typedef f_addr_out_t f_getsockname_t;
typedef f_addr_out_t f_getpeername_t;
typedef f_int_int_t f_shutdown_t;
typedef f_iov_t f_readv_t;
typedef f_iov_t f_writev_t;

/* ------------------------------------------------------------------------ */
/* Global state                                                              */

static int g_enabled;                      /* ROCKETNET_SOCK set at load */
static char g_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int g_trace_on;                     /* ROCKETNET_TRACE set (and enabled) */
static char g_trace_path[4096];

static int g_adopt_fd = -1;                /* ROCKETNET_CTL_FD, moved high at load */
static pid_t g_adopt_pid;
static ino_t g_adopt_ino;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;   /* control RPCs */
static int g_ctl_fd = -1;
static pid_t g_ctl_pid;
static ino_t g_ctl_ino;
static int g_ctl_adopted;
static pid_t g_host_pid;                   /* from HELLO; 0 = unknown */
static int g_oob_quirks;                    /* from HELLO: RN_HELLO_OOB_* (urgent.c) */
static int g_tclass_sock;                   /* from HELLO: RN_HELLO_TCLASS_SOCK (dgram.c) */
static uid_t g_ctl_euid;                   /* geteuid() when g_ctl_fd was made */
static int g_dialer_fd = -1;               /* ROCKETNET_DIALER_FD, inherited, no CLOEXEC */
static ino_t g_dialer_ino;
static char g_nonce[RN_NONCE_LEN + 1];
static pid_t g_warned_pid;

static pthread_mutex_t g_tlock = PTHREAD_MUTEX_INITIALIZER;  /* trace file */

/* The stub's locks, taken only through rn_guard.  A signal handler that re-enters the
 * stub while its thread holds one would deadlock on it: the thread's bit is set BEFORE
 * the lock is taken (no window), and a re-entry finds it and backs off (-1). */
enum { RN_L_CTL = 1, RN_L_TRACE = 2, RN_L_PIPE = 4, RN_L_DGRAM = 8 };
static __thread unsigned t_held;

static int rn_guard(pthread_mutex_t *m, unsigned bit)
{
    if (__atomic_load_n(&t_held, __ATOMIC_RELAXED) & bit)
        return -1;
    __atomic_fetch_or(&t_held, bit, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(m);
    return 0;
}

static void rn_unguard(pthread_mutex_t *m, unsigned bit)
{
    pthread_mutex_unlock(m);
    __atomic_fetch_and(&t_held, ~bit, __ATOMIC_SEQ_CST);
}
/* seccomp.c: the process and fd a supervisor thread acts for (0: our own calls) */
static __thread int g_acting_pid, g_acting_slot, g_acting_fd;
static int g_trace_fd = -1;
static pid_t g_trace_pid;
static ino_t g_trace_ino;

/* Per-fd cache. info layout: bits 0-31 sock_id, 32-33 state, 40-47 kind, flags. */
#define RN_CACHE_N 65536
#define ST_NOT 1ULL
#define ST_SHIM 2ULL
#define ST_DG_CANDIDATE 3ULL /* got without socket() (exec, SCM_RIGHTS), looks like ours:
                              * classified on first use (dgram.c) */
#define INFO_STATE(i) (((i) >> 32) & 3ULL)
#define INFO_KIND(i) ((int)(((i) >> 40) & 0xffULL))
#define INFO_ID(i) ((uint32_t)((i) & 0xffffffffULL))
#define F_LISTENER (1ULL << 48)
#define F_CONNECTING (1ULL << 49)  /* a connect was started: never fill again */
#define F_MORE (1ULL << 53)        /* a send with MSG_MORE told the host to hold data */
#define F_LINGER (1ULL << 56)      /* SO_LINGER on with a timeout: close() waits (rn_linger) */
#define F_EOF (1ULL << 58)         /* stream A read a final EOF (after a FIN): reads stay 0 */
#define F_UNCONN (1ULL << 59)      /* TCP socket made here, maybe never connected (rn_unconn) */
#define F_FRESH (1ULL << 61)       /* TCP socket made here, no connect or listen tried yet: its
                                    * A is shut (connect swaps it), options wait (defer.c) */
/* bits 50-52 are the datagram flags of dgram.c */
struct rn_fdent {
    uint64_t ino;
    uint64_t info;
};
static struct rn_fdent g_cache[RN_CACHE_N];
/* the fd classified last: the fd an RPC about its socket is most likely for (only a hint
 * for the host, so threads racing on it do no harm) */
static int g_last_fd = -1;

struct rn_sock {
    uint64_t ino;
    uint64_t info;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static void rn_write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = REAL(write)(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

#include "self.c" /* the pid, kept where a fork wipes it */

/* Safe access to (possibly bad) user memory, like the kernel's copy_from_user:
 * process_vm_readv/writev on ourselves.  Where those are forbidden (seccomp, e.g.
 * container default profiles: EPERM/ENOSYS), a private pipe does the same job: write()
 * from / read() into the user buffer fails with EFAULT instead of crashing. */
static int g_vm_broken;
static pthread_mutex_t g_plock = PTHREAD_MUTEX_INITIALIZER;
static int g_pipe[2] = {-1, -1};
static pid_t g_pipe_pid;
static int rn_move_high(int fd);

static int rn_pipe_copy(void *dst, const void *src, size_t n)
{
    int ok = -1;
    if (rn_guard(&g_plock, RN_L_PIPE) < 0) { /* re-entered: the pipe is in use */
        errno = EFAULT;
        return -1;
    }
    if (g_pipe[0] < 0 || g_pipe_pid != rn_getpid()) {
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
            g_pipe[0] = rn_move_high(p[0]);
            g_pipe[1] = rn_move_high(p[1]);
            g_pipe_pid = rn_getpid();
        }
    }
    if (g_pipe[0] >= 0) {
        ssize_t w = REAL(write)(g_pipe[1], src, n);
        if (w == (ssize_t)n) {
            ssize_t r = REAL(read)(g_pipe[0], dst, n);
            ok = r == (ssize_t)n ? 0 : -1;
            if (r < 0) { /* drain what the failed read left */
                char scratch[512];
                size_t left = n;
                while (left > 0) {
                    ssize_t k = REAL(read)(g_pipe[0], scratch,
                                           left < sizeof scratch ? left : sizeof scratch);
                    if (k <= 0)
                        break;
                    left -= (size_t)k;
                }
            }
        } else if (w > 0) { /* partial: drain it */
            char scratch[512];
            while (REAL(read)(g_pipe[0], scratch, sizeof scratch) > 0) {
            }
        }
    }
    rn_unguard(&g_plock, RN_L_PIPE);
    if (ok < 0)
        errno = EFAULT;
    return ok;
}

static int rn_copy_in(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (!g_vm_broken) {
        struct iovec l = {dst, n}, r = {(void *)src, n};
        ssize_t k = process_vm_readv(rn_getpid(), &l, 1, &r, 1, 0);
        if (k == (ssize_t)n)
            return 0;
        if (!(k < 0 && (errno == ENOSYS || errno == EPERM))) {
            errno = EFAULT;
            return -1;
        }
        g_vm_broken = 1;
    }
    return rn_pipe_copy(dst, src, n);
}

static int rn_copy_out(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (!g_vm_broken) {
        struct iovec l = {(void *)src, n}, r = {dst, n};
        ssize_t k = process_vm_writev(rn_getpid(), &l, 1, &r, 1, 0);
        if (k == (ssize_t)n)
            return 0;
        if (!(k < 0 && (errno == ENOSYS || errno == EPERM))) {
            errno = EFAULT;
            return -1;
        }
        g_vm_broken = 1;
    }
    return rn_pipe_copy(dst, src, n);
}

/* Two copies out in one system call (an address and its length): as rn_copy_out of
 * each, in order (a fault in the second leaves the first written, as the kernel's). */
static int rn_copy_out2(void *d1, const void *s1, size_t n1, void *d2, const void *s2, size_t n2)
{
    if (!g_vm_broken) {
        struct iovec l[2] = {{(void *)s1, n1}, {(void *)s2, n2}}, r[2] = {{d1, n1}, {d2, n2}};
        ssize_t k = process_vm_writev(rn_getpid(), l, 2, r, 2, 0);
        if (k == (ssize_t)(n1 + n2))
            return 0;
        if (!(k < 0 && (errno == ENOSYS || errno == EPERM))) {
            errno = EFAULT;
            return -1;
        }
        g_vm_broken = 1;
    }
    return rn_copy_out(d1, s1, n1) < 0 ? -1 : rn_copy_out(d2, s2, n2);
}

static int rn_high_base(void)
{
    struct rlimit rl;
    long lim = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        lim = (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536) ? 65536 : (long)rl.rlim_cur;
    long h = lim - 32;
    if (h < 256)
        h = 256;
    return (int)h;
}

/* Move fd to a high, close-on-exec number so the program's numbering is unchanged. */
static int rn_move_high(int fd)
{
    int h = rn_high_base();
    if (fd >= h) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
    int n = fcntl(fd, F_DUPFD_CLOEXEC, h);
    if (n < 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (long)rl.rlim_cur - 1 > fd)
            n = fcntl(fd, F_DUPFD_CLOEXEC, (int)rl.rlim_cur - 1);
    }
    if (n < 0) { /* rlimit too low: keep the number we have */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
    REAL(close)(fd);
    return n;
}

static ino_t rn_fd_ino(int fd) /* 0 if not open or not a socket */
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    return st.st_ino;
}

/* ------------------------------------------------------------------------ */
/* Cache                                                                     */

static void rn_cache_clear(void)
{
    for (int i = 0; i < RN_CACHE_N; i++)
        __atomic_store_n(&g_cache[i].info, 0, __ATOMIC_RELAXED);
}

static void rn_cache_set(int fd, uint64_t ino, uint64_t info)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cache[fd].ino, ino, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cache[fd].info, info, __ATOMIC_RELEASE);
}

/* Set and clear flags of fd's entry in one atomic step (other threads update flags of
 * the same entry); an entry that is not s's any more is replaced. */
static void rn_cache_flags(int fd, const struct rn_sock *s, uint64_t set, uint64_t clear)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    uint64_t cur = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
    for (;;) {
        if (INFO_STATE(cur) != ST_SHIM || INFO_ID(cur) != INFO_ID(s->info) ||
            __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE) != s->ino) {
            rn_cache_set(fd, s->ino, (s->info | set) & ~clear);
            return;
        }
        if (__atomic_compare_exchange_n(&g_cache[fd].info, &cur, (cur | set) & ~clear, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
}

static uint64_t rn_mkinfo(uint64_t state, uint32_t id, int kind, uint64_t flags)
{
    return (state << 32) | id | ((uint64_t)(kind & 0xff) << 40) | flags;
}

/* ------------------------------------------------------------------------ */
/* Control connection                                                        */

/* Length of path's directory part, with its '/' (the host's log is beside ctl.sock). */
static int rn_dir_len(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (int)(slash - path + 1) : 0;
}

static void rn_report(int err)
{
    pid_t me = rn_getpid();
    if (g_warned_pid == me)
        return;
    g_warned_pid = me;
    char buf[512];
    /* the host's name is its directory's (RUNTIME_DIR/NAME/ctl.sock) */
    int dir = rn_dir_len(g_sock_path), base = dir - 1;
    while (base > 0 && g_sock_path[base - 1] != '/')
        base--;
    int n = err == EPROTO
                ? snprintf(buf, sizeof buf,
                           "rocketnet: the stack host at %s was built from another "
                           "rocketnet protocol; stop it (rocketnet host stop NAME)\n",
                           g_sock_path)
            : g_host_pid > 0 /* it answered this process before: it died (or stopped) */
                ? snprintf(buf, sizeof buf,
                           "rocketnet: stack host %.*s (pid %d) is gone (unreachable at %s: "
                           "%s); its log: %.*shost.log\n",
                           dir > base ? dir - 1 - base : 0, g_sock_path + (base > 0 ? base : 0),
                           (int)g_host_pid, g_sock_path, strerror(err), dir, g_sock_path)
                : snprintf(buf, sizeof buf,
                           "rocketnet: stack host unreachable at %s: %s; its log: %.*shost.log\n",
                           g_sock_path, strerror(err), dir, g_sock_path);
    if (n > 0)
        rn_write_all(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int rn_lock(void)
{
    if (rn_guard(&g_lock, RN_L_CTL) < 0) {
        errno = EINTR; /* re-entered from a signal handler */
        return -1;
    }
    return 0;
}

static void rn_unlock(void)
{
    rn_unguard(&g_lock, RN_L_CTL);
}

#include "defer.c" /* socket options that travel with the call that needs them */

/* One request/response exchange on fd.  0 on success (resp filled, *rfd = the
 * attached fd or -1), -1 with errno on a transport failure. */
/* Room for one SCM_RIGHTS fd. */
union rn_fd_cmsg {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
};

/* mh carries fd (SCM_RIGHTS) in cm. */
static void rn_put_fd(struct msghdr *mh, union rn_fd_cmsg *cm, int fd)
{
    memset(cm, 0, sizeof *cm);
    mh->msg_control = cm->buf;
    mh->msg_controllen = sizeof cm->buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
}

static int rn_xfer(int fd, const struct rn_req *req, const void *payload, int sfd,
                   struct rn_resp *resp, void *rbuf, size_t rcap, int *rfd, int cloexec)
{
    struct iovec iov[2] = {{(void *)req, sizeof *req}, {(void *)payload, req->payload_len}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = req->payload_len ? 2 : 1;
    union rn_fd_cmsg sc;
    if (sfd >= 0) /* one fd for the host with the request */
        rn_put_fd(&mh, &sc, sfd);
    ssize_t n;
    do
        n = REAL(sendmsg)(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != sizeof *req + req->payload_len) {
        errno = EPROTO;
        return -1;
    }

    char discard[RN_MAX_PAYLOAD];
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    struct iovec riov[2] = {{resp, sizeof *resp}, {rbuf ? rbuf : discard, rbuf ? rcap : sizeof discard}};
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = riov;
    mh.msg_iovlen = 2;
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof cm.buf;
    do
        n = REAL(recvmsg)(fd, &mh, cloexec ? MSG_CMSG_CLOEXEC : 0);
    while (n < 0 && errno == EINTR);
    if (rfd)
        *rfd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
                if (rfd && *rfd < 0)
                    *rfd = f;
                else
                    REAL(close)(f);
            }
        }
    }
    if (n < 0)
        return -1;
    if (n == 0) {
        errno = ECONNRESET;
        goto bad;
    }
    if ((size_t)n < sizeof *resp || (size_t)n - sizeof *resp != resp->payload_len ||
        (mh.msg_flags & MSG_TRUNC)) {
        errno = EPROTO;
        goto bad;
    }
    return 0;
bad:
    if (rfd && *rfd >= 0) {
        int e = errno;
        REAL(close)(*rfd);
        *rfd = -1;
        errno = e;
    }
    return -1;
}

static void rn_drop_ctl(void)
{
    if (g_ctl_fd >= 0 && rn_fd_ino(g_ctl_fd) == g_ctl_ino)
        REAL(close)(g_ctl_fd);
    g_ctl_fd = -1;
}

static int rn_connect_host(void)
{
    int fd = REAL(socket)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, g_sock_path, sizeof un.sun_path);
    int r;
    do
        r = REAL(connect)(fd, (struct sockaddr *)&un, sizeof un);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        REAL(close)(fd);
        errno = e;
        return -1;
    }
    return rn_move_high(fd);
}

/* A control connection through the inherited dialer (rn_protocol.h,
 * RN_ENV_DIALER_FD): a fresh socketpair, one end sent to the host in one message,
 * the other end ours.  Works whatever our uid now is; -1 if there is no dialer. */
static int rn_dial(void)
{
    if (g_dialer_fd < 0 || rn_fd_ino(g_dialer_fd) != g_dialer_ino) {
        errno = ENOENT;
        return -1;
    }
    int sv[2];
    if (REAL(socketpair)(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    char b = 'D';
    struct iovec iov = {&b, 1};
    union rn_fd_cmsg cm;
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    rn_put_fd(&mh, &cm, sv[1]);
    ssize_t n;
    do
        n = REAL(sendmsg)(g_dialer_fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int e = errno;
    REAL(close)(sv[1]);
    if (n != 1) {
        REAL(close)(sv[0]);
        errno = n < 0 ? e : EPROTO;
        return -1;
    }
    return rn_move_high(sv[0]);
}

/* Make sure this process has a live control connection (lock held). */
static int rn_ensure_ctl(void)
{
    pid_t me = rn_getpid();
    if (g_ctl_fd >= 0 && g_ctl_pid == me && g_dialer_fd >= 0 && g_ctl_euid != geteuid() &&
        rn_fd_ino(g_dialer_fd) == g_dialer_ino)
        rn_drop_ctl(); /* setuid: the host must see our new credentials */
    if (g_ctl_fd >= 0 && g_ctl_pid != me) { /* forked: that one is the parent's */
        if (!g_ctl_adopted)
            rn_drop_ctl();
        g_ctl_fd = -1;
    }
    if (g_ctl_fd >= 0 && rn_fd_ino(g_ctl_fd) != g_ctl_ino)
        g_ctl_fd = -1; /* closed or replaced behind our back: forget, do not close */
    if (g_ctl_fd >= 0)
        return 0;

    int fd = -1, adopted = 0;
    if (g_adopt_fd >= 0 && g_adopt_pid == me) {
        fd = g_adopt_fd;
        g_adopt_fd = -1;
        if (rn_fd_ino(fd) != g_adopt_ino)
            fd = -1; /* closed (or replaced) by the program before first use */
        else
            adopted = 1;
    }
    if (fd < 0)
        fd = rn_dial();
    if (fd < 0)
        fd = rn_connect_host();
    if (fd < 0) {
        int e = errno;
        rn_report(e);
        errno = ENETDOWN;
        return -1;
    }
    g_ctl_fd = fd;
    g_ctl_pid = me;
    g_ctl_ino = rn_fd_ino(fd);
    g_ctl_adopted = adopted;
    g_ctl_euid = geteuid();

    struct rn_req req;
    memset(&req, 0, sizeof req);
    req.op = RN_OP_HELLO;
    req.arg[0] = me;
    req.arg[1] = RN_PROTO_VERSION;
    struct rn_resp resp;
    char nonce[RN_MAX_PAYLOAD];
    if (rn_xfer(fd, &req, NULL, -1, &resp, nonce, sizeof nonce, NULL, 1) < 0 || resp.ret <= 0 ||
        resp.payload_len < RN_NONCE_LEN) {
        int e = errno;
        if (e == 0 || resp.ret <= 0)
            e = EPROTO;
        rn_drop_ctl();
        rn_report(e);
        errno = ENETDOWN;
        return -1;
    }
    g_buf_max = resp.arg[0];
    g_buf_min = resp.arg[1];
    if (g_host_pid != (pid_t)resp.ret || memcmp(g_nonce, nonce, RN_NONCE_LEN) != 0) {
        if (g_host_pid != 0)
            rn_cache_clear(); /* a different host: what we knew is stale */
        memcpy(g_nonce, nonce, RN_NONCE_LEN);
        g_nonce[RN_NONCE_LEN] = 0;
        g_host_pid = (pid_t)resp.ret;
    }
    uint32_t quirks = 0;
    if (resp.payload_len >= RN_NONCE_LEN + sizeof quirks)
        memcpy(&quirks, nonce + RN_NONCE_LEN, sizeof quirks);
    g_oob_quirks = (int)(quirks & (RN_HELLO_OOB_STALL | RN_HELLO_OOB_NOMARK));
    g_tclass_sock = (quirks & RN_HELLO_TCLASS_SOCK) != 0;
    return 0;
}

/* Options kept for sock_id go to the host with req (lock held, connection made): in
 * req's payload for bind/listen/connect (*payload, *plen then point into room), else
 * as one RN_OP_SETOPTS first.  0, or -1 with errno on a transport failure. */
static int rn_defer_send(struct rn_req *req, const void **payload, size_t *plen,
                         unsigned char *room)
{
    struct rn_setopt kept[RN_DEFER_MAX];
    uint32_t n = rn_defer_take(req->sock_id, kept);
    if (n == 0)
        return 0;
    size_t olen = n * sizeof kept[0];
    if ((req->op == RN_OP_BIND || req->op == RN_OP_LISTEN || req->op == RN_OP_CONNECT) &&
        *plen + olen <= RN_MAX_PAYLOAD) {
        if (*plen)
            memcpy(room, *payload, *plen);
        memcpy(room + *plen, kept, olen);
        *payload = room;
        *plen += olen;
        req->payload_len = (uint32_t)*plen;
        req->arg[3] = n;
        return 0;
    }
    struct rn_req sreq;
    memset(&sreq, 0, sizeof sreq);
    sreq.op = RN_OP_SETOPTS;
    sreq.sock_id = req->sock_id;
    sreq.arg[0] = n;
    sreq.payload_len = (uint32_t)olen;
    sreq.fd_hint = req->fd_hint;
    struct rn_resp sresp;
    return rn_xfer(g_ctl_fd, &sreq, kept, -1, &sresp, NULL, 0, NULL, 0);
}

/* A control RPC.  Returns 0 with resp filled, or -1 (errno ENETDOWN or EINTR). */
/* rn_rpc that also hands the host sfd (-1: none) with the request */
static int rn_rpc_fd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2,
                     int64_t a3, const void *payload, size_t plen, int sfd,
                     struct rn_resp *resp, void *rbuf, size_t rcap, int *rfd, int cloexec)
{
    struct rn_req req;
    memset(&req, 0, sizeof req);
    req.op = op;
    req.sock_id = sock_id;
    req.arg[0] = a0;
    req.arg[1] = a1;
    req.arg[2] = a2;
    req.arg[3] = a3;
    req.payload_len = (uint32_t)plen;
    int hint = __atomic_load_n(&g_last_fd, __ATOMIC_RELAXED);
    if (sock_id != 0 && hint >= 0 && hint < RN_CACHE_N &&
        INFO_ID(__atomic_load_n(&g_cache[hint].info, __ATOMIC_RELAXED)) == sock_id)
        req.fd_hint = (uint32_t)hint + 1;
    if (rfd)
        *rfd = -1;
    if (rn_lock() < 0)
        return -1;
    int r = rn_ensure_ctl();
    unsigned char room[RN_MAX_PAYLOAD];
    if (r == 0 && sock_id != 0 && g_defer_used > 0)
        r = rn_defer_send(&req, &payload, &plen, room);
    if (r == 0) {
        r = rn_xfer(g_ctl_fd, &req, payload, sfd, resp, rbuf, rcap, rfd, cloexec);
        if (r < 0) {
            int e = errno;
            rn_drop_ctl();
            rn_report(e);
            errno = ENETDOWN;
        }
    }
    rn_unlock();
    return r;
}

static int rn_rpc(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2, int64_t a3,
                  const void *payload, size_t plen, struct rn_resp *resp, void *rbuf,
                  size_t rcap, int *rfd, int cloexec)
{
    return rn_rpc_fd(op, sock_id, a0, a1, a2, a3, payload, plen, -1, resp, rbuf, rcap, rfd,
                     cloexec);
}

/* The program hands a socket on (dup2/dup3 before an exec, sendmsg with SCM_RIGHTS):
 * the options kept for it (fd >= 0), or for every socket (fd < 0), go to the host now. */
static void rn_defer_flush(int fd)
{
    if (__atomic_load_n(&g_defer_used, __ATOMIC_RELAXED) == 0 || fd >= RN_CACHE_N)
        return;
    uint64_t i = fd >= 0 ? __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED) : 0;
    if (fd >= 0 && (INFO_STATE(i) != ST_SHIM || !(i & F_FRESH)))
        return;
    if (rn_lock() < 0)
        return;
    if (rn_ensure_ctl() == 0) {
        for (int k = 0; k < RN_DEFER_SLOTS; k++) {
            uint32_t id = fd >= 0 ? INFO_ID(i) : g_defer[k].id;
            if (id == 0)
                continue;
            struct rn_req req;
            memset(&req, 0, sizeof req);
            req.op = RN_OP_SETOPTS;
            req.sock_id = id;
            const void *payload = NULL;
            size_t plen = 0;
            if (rn_defer_send(&req, &payload, &plen, NULL) < 0) {
                rn_drop_ctl();
                break;
            }
            if (fd >= 0)
                break;
        }
    }
    rn_unlock();
}

/* Host identity for classification: fills nonce/pid, -1 (ENETDOWN) if unreachable. */
static int rn_host_identity(char *nonce, pid_t *pid)
{
    if (rn_lock() < 0)
        return -1;
    int r = rn_ensure_ctl();
    if (r == 0) {
        memcpy(nonce, g_nonce, RN_NONCE_LEN);
        *pid = g_host_pid;
    }
    rn_unlock();
    return r;
}

static void rn_epint_carry(int fd);  /* epint.c */
static void rn_epint_forget(int fd); /* epint.c */
static void rn_epint_note(int epfd, int op, int fd, const struct epoll_event *ev); /* epint.c */

/* Put the host's socket nfd on fd's number (closing nfd), keeping fd's FD_CLOEXEC and
 * O_NONBLOCK.  0 with s updated, -1 with errno. */
static int rn_install(int fd, struct rn_sock *s, int nfd, uint32_t id, int kind)
{
    int fdfl = fcntl(fd, F_GETFD), fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) {
        int nfl = fcntl(nfd, F_GETFL);
        fcntl(nfd, F_SETFL, (nfl < 0 ? 0 : nfl) | O_NONBLOCK);
    }
    /* the kernel's dup3, not the interposer: this fd's cache entry is set below */
    if (REAL(syscall)(SYS_dup3, nfd, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        int e = errno;
        REAL(close)(nfd);
        errno = e;
        return -1;
    }
    REAL(close)(nfd);
    struct stat st;
    s->ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
    s->info = rn_mkinfo(ST_SHIM, id, kind, 0);
    rn_cache_set(fd, s->ino, s->info);
    rn_epint_carry(fd);
    return 0;
}

/* An RPC whose success hands over an fd (close-on-exec): the fd, resp filled; or -1
 * with errno (the host's error, or EPROTO if it sent no fd). */
static int rn_rpc_getfd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2,
                        const void *payload, size_t plen, struct rn_resp *resp)
{
    int nfd = -1;
    if (rn_rpc(op, sock_id, a0, a1, a2, 0, payload, plen, resp, NULL, 0, &nfd, 1) < 0)
        return -1;
    if (resp->ret < 0 || nfd < 0) {
        if (nfd >= 0)
            REAL(close)(nfd);
        errno = resp->ret < 0 && resp->err > 0 ? resp->err : EPROTO;
        return -1;
    }
    return nfd;
}

/* Put a fresh A from the host on fd (RN_OP_REOPEN): same fd number, same FD_CLOEXEC
 * and O_NONBLOCK.  0 with s updated, -1 with errno. */
static int rn_reopen(int fd, struct rn_sock *s)
{
    struct rn_resp resp;
    int nfd = rn_rpc_getfd(RN_OP_REOPEN, INFO_ID(s->info), 0, 0, 0, NULL, 0, &resp);
    if (nfd < 0)
        return -1;
    return rn_install(fd, s, nfd, (uint32_t)resp.ret, (int)resp.arg[0]);
}

/* rn_rpc for socket fd: when the host answers RN_ERR_REOPEN, swap A and retry once. */
static int rn_sock_rpc(int fd, struct rn_sock *s, uint32_t op, int64_t a0, int64_t a1,
                       int64_t a2, int64_t a3, const void *payload, size_t plen,
                       struct rn_resp *resp, void *rbuf, size_t rcap, int *rfd, int cloexec)
{
    for (int tries = 0;; tries++) {
        if (rn_rpc(op, INFO_ID(s->info), a0, a1, a2, a3, payload, plen, resp, rbuf, rcap, rfd,
                   cloexec) < 0)
            return -1;
        if (resp->ret < 0 && resp->err == RN_ERR_REOPEN && tries == 0) {
            if (rn_reopen(fd, s) < 0)
                return -1;
            continue;
        }
        return 0;
    }
}

/* resp -> return value / errno */
static long rn_result(const struct rn_resp *resp)
{
    if (resp->ret < 0) {
        errno = resp->err > 0 ? resp->err : EIO;
        return -1;
    }
    return (long)resp->ret;
}

/* ------------------------------------------------------------------------ */
/* Classification                                                            */

/* 1: shim fd (s filled), 0: not ours (any non-socket, unknown or bad fd),
 * -1: looks like a shim fd but the host is unreachable (errno ENETDOWN). */
static int rn_classify(int fd, struct rn_sock *s)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    __atomic_store_n(&g_last_fd, fd, __ATOMIC_RELAXED);
    s->ino = st.st_ino;
    if (fd < RN_CACHE_N) {
        uint64_t i1 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        uint64_t ino = __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE);
        uint64_t i2 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        if (i1 == i2 && INFO_STATE(i1) != 0 && INFO_STATE(i1) != ST_DG_CANDIDATE &&
            ino == (uint64_t)st.st_ino) {
            s->info = i1;
            return INFO_STATE(i1) == ST_SHIM;
        }
    }
    uint64_t neg = rn_mkinfo(ST_NOT, 0, 0, 0);
    struct sockaddr_un un;
    socklen_t l = sizeof un;
    memset(&un, 0, sizeof un);
    const size_t off = offsetof(struct sockaddr_un, sun_path);
    const size_t plen = sizeof(RN_NAME_PREFIX) - 1;
    if (REAL(getsockname)(fd, (struct sockaddr *)&un, &l) < 0 || un.sun_family != AF_UNIX ||
        l <= off + 1 + plen || l > sizeof un || un.sun_path[0] != 0 ||
        memcmp(un.sun_path + 1, RN_NAME_PREFIX, plen) != 0) {
        rn_cache_set(fd, st.st_ino, neg);
        s->info = neg;
        return 0;
    }
    char nonce[RN_NONCE_LEN];
    pid_t hpid = 0;
    if (rn_host_identity(nonce, &hpid) < 0)
        return -1;
    const char *p = un.sun_path + 1 + plen;
    size_t rest = l - off - 1 - plen;
    uint64_t id = 0;
    int ok = rest > RN_NONCE_LEN + 1 && memcmp(p, nonce, RN_NONCE_LEN) == 0 &&
             p[RN_NONCE_LEN] == '-';
    int is_unix = ok && p[RN_NONCE_LEN + 1] == 'u'; /* AF_UNIX stream/seqpacket (unix.c) */
    size_t first = RN_NONCE_LEN + 1 + (size_t)is_unix;
    ok = ok && rest > first && rest <= first + 10;
    for (size_t i = first; ok && i < rest; i++) {
        if (p[i] < '0' || p[i] > '9')
            ok = 0;
        else
            id = id * 10 + (uint64_t)(p[i] - '0');
    }
    if (ok && id > UINT32_MAX)
        ok = 0;
    if (ok) {
        struct ucred cr;
        socklen_t cl = sizeof cr;
        /* an unconnected AF_UNIX socket of the host has no peer (pid 0) */
        if (REAL(getsockopt)(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
            (cr.pid != hpid && !(is_unix && cr.pid == 0)))
            ok = 0;
    }
    if (!ok) {
        rn_cache_set(fd, st.st_ino, neg);
        s->info = neg;
        return 0;
    }
    int type = 0;
    socklen_t tl = sizeof type;
    REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    int kind = is_unix ? RN_KIND_UNIX
               : type == SOCK_STREAM ? RN_KIND_STREAM
               : type == SOCK_SEQPACKET ? RN_KIND_DGRAM : 0;
    if (kind == RN_KIND_DGRAM) { /* AF_ALG sockets are SEQPACKET pairs too (alg.c) */
        struct rn_resp resp;
        int dom = 0;
        if (rn_rpc(RN_OP_GETSOCKOPT, (uint32_t)id, SOL_SOCKET, SO_DOMAIN, sizeof dom, 0, NULL, 0,
                   &resp, &dom, sizeof dom, NULL, 0) == 0 &&
            resp.ret >= 0 && dom == AF_ALG)
            kind = RN_KIND_ALG;
    }
    s->info = rn_mkinfo(ST_SHIM, (uint32_t)id, kind, 0);
    rn_cache_set(fd, st.st_ino, s->info);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Tracing                                                                   */

struct tb {
    char b[1536];
    size_t n;
    int skip;                       /* a call the trace filter (-e) leaves out */
};

__attribute__((format(printf, 2, 3))) static void tb_add(struct tb *t, const char *fmt, ...)
{
    if (t->n >= sizeof t->b - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->b + t->n, sizeof t->b - t->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->n += (size_t)k;
    if (t->n > sizeof t->b - 1)
        t->n = sizeof t->b - 1;
}

struct nm {
    long v;
    const char *s;
};
#define NM(x) {x, #x}

static const char *nm_find(const struct nm *t, size_t n, long v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].v == v)
            return t[i].s;
    return NULL;
}
#define NMLEN(t) (sizeof(t) / sizeof((t)[0]))

static const struct nm nm_family[] = {
    NM(AF_UNSPEC), NM(AF_UNIX), NM(AF_INET), NM(AF_INET6), NM(AF_NETLINK), NM(AF_PACKET),
    NM(AF_ALG),
};
static const struct nm nm_stype[] = {
    NM(SOCK_STREAM), NM(SOCK_DGRAM), NM(SOCK_RAW), NM(SOCK_RDM), NM(SOCK_SEQPACKET),
    NM(SOCK_PACKET),
};
static const struct nm nm_level[] = {
    NM(SOL_SOCKET), NM(SOL_IP), NM(SOL_TCP), NM(SOL_IPV6), NM(SOL_RAW),
};
static const struct nm nm_so[] = {
    NM(SO_DEBUG), NM(SO_REUSEADDR), NM(SO_TYPE), NM(SO_ERROR), NM(SO_DONTROUTE),
    NM(SO_BROADCAST), NM(SO_SNDBUF), NM(SO_RCVBUF), NM(SO_KEEPALIVE), NM(SO_OOBINLINE),
    NM(SO_NO_CHECK), NM(SO_PRIORITY), NM(SO_LINGER), NM(SO_BSDCOMPAT), NM(SO_REUSEPORT),
    NM(SO_PASSCRED), NM(SO_PEERCRED), NM(SO_RCVLOWAT), NM(SO_SNDLOWAT),
    {20, "SO_RCVTIMEO_OLD"}, {21, "SO_SNDTIMEO_OLD"}, NM(SO_BINDTODEVICE),
    NM(SO_TIMESTAMP), NM(SO_ACCEPTCONN), NM(SO_SNDBUFFORCE), NM(SO_RCVBUFFORCE),
    NM(SO_PROTOCOL), NM(SO_DOMAIN), NM(SO_MARK), NM(SO_RXQ_OVFL), NM(SO_PEEK_OFF),
    NM(SO_BUSY_POLL), NM(SO_INCOMING_CPU), NM(SO_ZEROCOPY),
    {66, "SO_RCVTIMEO_NEW"}, {67, "SO_SNDTIMEO_NEW"},
};
static const struct nm nm_tcp[] = {
    NM(TCP_NODELAY), NM(TCP_MAXSEG), NM(TCP_CORK), NM(TCP_KEEPIDLE), NM(TCP_KEEPINTVL),
    NM(TCP_KEEPCNT), NM(TCP_SYNCNT), NM(TCP_LINGER2), NM(TCP_DEFER_ACCEPT),
    NM(TCP_WINDOW_CLAMP), NM(TCP_INFO), NM(TCP_QUICKACK), NM(TCP_CONGESTION),
    NM(TCP_MD5SIG), NM(TCP_THIN_LINEAR_TIMEOUTS), NM(TCP_USER_TIMEOUT), NM(TCP_REPAIR),
    NM(TCP_FASTOPEN), NM(TCP_TIMESTAMP), NM(TCP_NOTSENT_LOWAT), NM(TCP_FASTOPEN_CONNECT),
    NM(TCP_ULP), NM(TCP_ZEROCOPY_RECEIVE),
};
static const struct nm nm_ip[] = {
    NM(IP_TOS), NM(IP_TTL), NM(IP_HDRINCL), NM(IP_OPTIONS), NM(IP_RECVOPTS),
    NM(IP_RETOPTS), NM(IP_PKTINFO), NM(IP_MTU_DISCOVER), NM(IP_RECVERR), NM(IP_RECVTTL),
    NM(IP_RECVTOS), NM(IP_MTU), NM(IP_FREEBIND), NM(IP_TRANSPARENT),
    NM(IP_BIND_ADDRESS_NO_PORT), NM(IP_MULTICAST_IF), NM(IP_MULTICAST_TTL),
    NM(IP_MULTICAST_LOOP), NM(IP_ADD_MEMBERSHIP), NM(IP_DROP_MEMBERSHIP),
};
static const struct nm nm_ipv6[] = {
    NM(IPV6_V6ONLY), NM(IPV6_UNICAST_HOPS), NM(IPV6_MULTICAST_IF),
    NM(IPV6_MULTICAST_HOPS), NM(IPV6_MULTICAST_LOOP), NM(IPV6_MTU_DISCOVER), NM(IPV6_MTU),
    NM(IPV6_RECVERR), NM(IPV6_RECVPKTINFO), NM(IPV6_TCLASS), NM(IPV6_PKTINFO),
};
static const struct nm nm_msg[] = {
    NM(MSG_OOB), NM(MSG_PEEK), NM(MSG_DONTROUTE), NM(MSG_CTRUNC), NM(MSG_PROXY),
    NM(MSG_TRUNC), NM(MSG_DONTWAIT), NM(MSG_EOR), NM(MSG_WAITALL), NM(MSG_FIN),
    NM(MSG_SYN), NM(MSG_CONFIRM), NM(MSG_RST), NM(MSG_ERRQUEUE), NM(MSG_NOSIGNAL),
    NM(MSG_MORE), NM(MSG_WAITFORONE), NM(MSG_FASTOPEN), NM(MSG_CMSG_CLOEXEC),
#ifdef MSG_ZEROCOPY
    NM(MSG_ZEROCOPY),
#endif
};

static void tb_sym(struct tb *t, const struct nm *tab, size_t n, long v)
{
    const char *s = nm_find(tab, n, v);
    if (s)
        tb_add(t, "%s", s);
    else
        tb_add(t, "%ld", v);
}

static void tb_flags(struct tb *t, const struct nm *tab, size_t n, unsigned long v)
{
    if (v == 0) {
        tb_add(t, "0");
        return;
    }
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned long b = (unsigned long)tab[i].v;
        if (b && (v & b) == b) {
            tb_add(t, "%s%s", first ? "" : "|", tab[i].s);
            v &= ~b;
            first = 0;
        }
    }
    if (v)
        tb_add(t, "%s%#lx", first ? "" : "|", v);
}

static void tb_stype(struct tb *t, int type)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    tb_sym(t, nm_stype, NMLEN(nm_stype), base);
    if (type & SOCK_NONBLOCK)
        tb_add(t, "|SOCK_NONBLOCK");
    if (type & SOCK_CLOEXEC)
        tb_add(t, "|SOCK_CLOEXEC");
}

static void tb_sockflags(struct tb *t, int flags)
{
    if (flags == 0) {
        tb_add(t, "0");
        return;
    }
    const char *sep = "";
    if (flags & SOCK_NONBLOCK) {
        tb_add(t, "SOCK_NONBLOCK");
        sep = "|";
    }
    if (flags & SOCK_CLOEXEC) {
        tb_add(t, "%sSOCK_CLOEXEC", sep);
        sep = "|";
    }
    flags &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (flags)
        tb_add(t, "%s%#x", sep, (unsigned)flags);
}

static void tb_level_opt(struct tb *t, int level, int opt)
{
    tb_sym(t, nm_level, NMLEN(nm_level), level);
    tb_add(t, ", ");
    switch (level) {
    case SOL_SOCKET: tb_sym(t, nm_so, NMLEN(nm_so), opt); break;
    case SOL_TCP: tb_sym(t, nm_tcp, NMLEN(nm_tcp), opt); break;
    case SOL_IP: tb_sym(t, nm_ip, NMLEN(nm_ip), opt); break;
    case SOL_IPV6: tb_sym(t, nm_ipv6, NMLEN(nm_ipv6), opt); break;
    default: tb_add(t, "%d", opt);
    }
}

/* a sockaddr we hold a local copy of */
static void tb_addr(struct tb *t, const void *sa, size_t len)
{
    if (len < sizeof(sa_family_t)) {
        tb_add(t, "{}");
        return;
    }
    sa_family_t fam;
    memcpy(&fam, sa, sizeof fam);
    char ip[INET6_ADDRSTRLEN];
    if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
        tb_add(t, "{AF_INET, %s:%u}", ip, ntohs(in.sin_port));
    } else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof ip);
        tb_add(t, "{AF_INET6, [%s]:%u", ip, ntohs(in6.sin6_port));
        if (in6.sin6_scope_id)
            tb_add(t, "%%%u", in6.sin6_scope_id);
        tb_add(t, "}");
    } else if (fam == AF_UNIX) {
        const char *p = (const char *)sa + offsetof(struct sockaddr_un, sun_path);
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (n > 0 && p[0] == 0)
            tb_add(t, "{AF_UNIX, @%.*s}", (int)(n - 1), p + 1);
        else
            tb_add(t, "{AF_UNIX, \"%.*s\"}", (int)strnlen(p, n), p);
    } else {
        tb_add(t, "{");
        tb_sym(t, nm_family, NMLEN(nm_family), fam);
        tb_add(t, ", ...}");
    }
}

#include "traceopt.c" /* timestamps, payload bytes, filter, exec and exit lines */

static void tb_ret(struct tb *t, long r, int err)
{
    if (r < 0) {
#ifdef __GLIBC__
        const char *en = strerrorname_np(err);
#else
        const char *en = NULL; /* musl has no errno names */
#endif
        if (en)
            tb_add(t, " = -1 %s\n", en);
        else
            tb_add(t, " = -1 errno %d\n", err);
    } else {
        tb_add(t, " = %ld\n", r);
    }
}

static int rn_trace_fd(void)
{
    pid_t me = rn_getpid();
    if (rn_guard(&g_tlock, RN_L_TRACE) < 0) /* re-entered: the file as it is */
        return __atomic_load_n(&g_trace_fd, __ATOMIC_RELAXED);
    int fd = g_trace_fd;
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_ino != g_trace_ino)
            fd = -1; /* closed behind our back (or exec'd): reopen */
    }
    if (fd < 0 && g_trace_path[0] == '&') {
        /* --trace -: the fd rocketnet run left open for us; once the program closed
         * it (or put something else there) the trace ends, it is never reopened */
        if (g_trace_ino == 0) {
            fd = atoi(g_trace_path + 1);
            struct stat st;
            g_trace_ino = fstat(fd, &st) == 0 ? st.st_ino : (ino_t)-1;
            if (g_trace_ino == (ino_t)-1)
                fd = -1;
            g_trace_fd = fd;
        }
    } else if (fd < 0) {
        fd = open(g_trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            fd = rn_move_high(fd);
            struct stat st;
            g_trace_ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
        }
        g_trace_fd = fd;
        g_trace_pid = me;
    }
    rn_unguard(&g_tlock, RN_L_TRACE);
    return fd;
}

/* Write a finished line (starts with the pid; we prepend it here). */
static int rn_sc_hold(const struct tb *t); /* seccomp.c */
static void tb_emit(struct tb *t)
{
    if (t->skip)
        return;
    if (g_acting_pid && rn_sc_hold(t))
        return;
    int e = errno;
    int fd = rn_trace_fd();
    if (fd >= 0) {
        if (t->n == 0 || t->b[t->n - 1] != '\n') {
            if (t->n >= sizeof t->b - 1)
                t->n = sizeof t->b - 2;
            t->b[t->n++] = '\n';
        }
        ssize_t k;
        do
            k = REAL(write)(fd, t->b, t->n);
        while (k < 0 && errno == EINTR);
    }
    errno = e;
}

static void tb_start(struct tb *t, const char *call, int fd)
{
    t->n = 0;
    t->skip = !rn_tr_wanted(call);
    tb_add(t, "%d ", g_acting_pid ? g_acting_pid : (int)rn_getpid());
    tb_time(t);
    tb_add(t, "%s(", call);
    int cached = fd;             /* the cache is indexed by this process's fd */
    if (g_acting_pid && fd == g_acting_slot)
        fd = g_acting_fd;
    if (fd != INT_MIN) {
        tb_add(t, "%d", fd);
        if (g_tr_sockids && cached >= 0 && cached < RN_CACHE_N) { /* -y: the host's id */
            uint64_t i = __atomic_load_n(&g_cache[cached].info, __ATOMIC_ACQUIRE);
            if (INFO_STATE(i) == ST_SHIM)
                tb_add(t, "<sock %u>", INFO_ID(i));
        }
    }
}

/* simple "call(fd, count[, flags]) = r" lines for the data path */
static void trace_io_buf(const char *call, int fd, const void *buf, long count, int has_flags,
                         int flags, long r, int err)
{
    struct tb t;
    tb_start(&t, call, fd);
    tb_payload(&t, buf, r);
    tb_add(&t, ", %ld", count);
    if (has_flags) {
        tb_add(&t, ", ");
        tb_flags(&t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
    }
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    tb_emit(&t);
}

static void trace_io(const char *call, int fd, long count, int has_flags, int flags, long r,
                     int err)
{
    trace_io_buf(call, fd, NULL, count, has_flags, flags, r, err);
}

static void tb_optval(struct tb *t, int level, int opt, const unsigned char *v, size_t len)
{
    if (level == SOL_ALG) { /* keys are never traced */
        tb_add(t, "<%zu bytes>", len);
        return;
    }
    if (len == sizeof(int)) {
        int x;
        memcpy(&x, v, sizeof x);
        tb_add(t, "[%d]", x);
    } else if (level == SOL_SOCKET && (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO || opt == 66 ||
                                        opt == 67) && len >= sizeof(struct timeval)) {
        struct timeval tv;
        memcpy(&tv, v, sizeof tv);
        tb_add(t, "{tv_sec=%ld, tv_usec=%ld}", (long)tv.tv_sec, (long)tv.tv_usec);
    } else if (level == SOL_SOCKET && opt == SO_LINGER && len >= sizeof(struct linger)) {
        struct linger lg;
        memcpy(&lg, v, sizeof lg);
        tb_add(t, "{l_onoff=%d, l_linger=%d}", lg.l_onoff, lg.l_linger);
    } else if ((level == SOL_TCP && opt == TCP_CONGESTION) ||
               (level == SOL_SOCKET && opt == SO_BINDTODEVICE)) {
        tb_add(t, "\"%.*s\"", (int)strnlen((const char *)v, len), (const char *)v);
    } else {
        tb_add(t, "<%zu bytes>", len);
    }
}

/* ------------------------------------------------------------------------ */
/* Prologue used by every fd interposer                                      */

#define ERRET(e)       \
    do {               \
        err = (e);     \
        r = -1;        \
        goto out;      \
    } while (0)

/* ------------------------------------------------------------------------ */
/* socket                                                                    */

static int do_socket(int domain, int type, int protocol)
{
    /* AF_NETLINK: the host serves NETLINK_ROUTE (0) and NETLINK_SOCK_DIAG (4, ss); other
     * netlink families stay the kernel's */
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!g_enabled || (domain != AF_INET && domain != AF_INET6 && domain != AF_ALG &&
                       !(domain == AF_NETLINK && (protocol == 0 || protocol == 4)) &&
                       !(domain == AF_UNIX && (base == SOCK_STREAM || base == SOCK_SEQPACKET ||
                                               base == SOCK_DGRAM))))
        return REAL(socket)(domain, type, protocol);
    int saved = errno, err = 0, r;
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct rn_resp resp;
    int fd = -1;
    if (rn_rpc(RN_OP_SOCKET, 0, domain, base, protocol, 0,
               NULL, 0, &resp, NULL, 0, &fd, flags & SOCK_CLOEXEC) < 0)
        ERRET(errno);
    if (resp.ret < 0 && resp.err == RN_ERR_PASSTHROUGH) {
        errno = saved;
        r = REAL(socket)(domain, type, protocol);
        err = errno;
        goto out;
    }
    if (resp.ret < 0) {
        if (fd >= 0)
            REAL(close)(fd);
        ERRET(resp.err > 0 ? resp.err : EIO);
    }
    if (fd < 0)
        ERRET(EPROTO);
    if (flags & SOCK_NONBLOCK) {
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
    }
    struct stat st;
    if (fstat(fd, &st) == 0)
        rn_cache_set(fd, st.st_ino,
                     rn_mkinfo(ST_SHIM, (uint32_t)resp.ret, (int)resp.arg[0],
                               resp.arg[0] == RN_KIND_STREAM ? F_UNCONN | F_FRESH : 0));
    r = fd;
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "socket", INT_MIN);
        tb_sym(&t, nm_family, NMLEN(nm_family), domain);
        tb_add(&t, ", ");
        tb_stype(&t, type);
        tb_add(&t, ", %d)", protocol);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

static int rn_ll_tcp(const unsigned char *sa, socklen_t len, int is_connect); /* landlock.c */
static int rn_ll_abstract(int type, const unsigned char *sa, socklen_t len);
static void rn_ll_witness(int fd, const unsigned char *sa, socklen_t len);
static void rn_ll_unwitness(int fd);
static void rn_ll_init(void);
#include "unix.c" /* AF_UNIX sockets: naming calls */

/* ------------------------------------------------------------------------ */
/* bind / connect                                                            */

static void trace_addr_call(const char *call, int fd, const void *sa, long len, int copied,
                            const void *uptr, long r, int err)
{
    struct tb t;
    tb_start(&t, call, fd);
    tb_add(&t, ", ");
    if (copied)
        tb_addr(&t, sa, (size_t)len);
    else if (uptr == NULL)
        tb_add(&t, "NULL");
    else
        tb_add(&t, "%p", uptr);
    tb_add(&t, ", %ld)", len);
    tb_ret(&t, r, err);
    tb_emit(&t);
}

static int do_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (!g_enabled)
        return REAL(bind)(fd, addr, len);
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(bind)(fd, addr, len);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if ((int)len < 0 || len > sizeof sa)
        ERRET(EINVAL);
    if (rn_copy_in(sa, addr, len) < 0)
        ERRET(EFAULT);
    copied = 1;
    if (INFO_KIND(s.info) == RN_KIND_UNIX) {
        r = unix_bind(fd, &s, sa, len, &err);
        goto out;
    }
    if (INFO_KIND(s.info) == RN_KIND_STREAM && (err = rn_ll_tcp(sa, len, 0)) != 0) {
        r = -1; /* Landlock (landlock.c) */
        goto out;
    }
    struct rn_resp resp;
    if (rn_sock_rpc(fd, &s, RN_OP_BIND, 0, 0, 0, 0, sa, len, &resp, NULL, 0, NULL, 0) < 0)
        ERRET(errno);
    r = (int)rn_result(&resp);
    err = errno;
out:
    if (g_trace_on)
        trace_addr_call("bind", fd, sa, (long)(int)len, copied, addr, r, err);
    errno = r < 0 ? err : saved;
    return r;
}

static const char rn_zeros[65536];

/* Fill A until EAGAIN so that it turns writable only when the host discards. */
static uint64_t rn_fill(int fd)
{
    uint64_t total = 0;
    while (total < (16u << 20)) {
        ssize_t n = REAL(send)(fd, rn_zeros, sizeof rn_zeros, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            total += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    return total;
}

static int rn_sock_error(int fd, const struct rn_sock *s, int *val)
{
    struct rn_resp resp;
    int v = 0;
    if (rn_rpc(RN_OP_GETSOCKOPT, INFO_ID(s->info), SOL_SOCKET, SO_ERROR, sizeof v, 0, NULL, 0,
               &resp, &v, sizeof v, NULL, 0) < 0)
        return -1;
    (void)fd;
    if (rn_result(&resp) < 0)
        return -1;
    *val = v;
    return 0;
}

static void rn_dg_connected(int fd, struct rn_sock *s, const unsigned char *sa,
                            socklen_t len); /* dgram.c */
static void rn_dg_shutdown(int fd, struct rn_sock *s, int how, int done); /* dgram.c */
static int alg_accept(int fd, struct rn_sock *s, struct sockaddr *addr, socklen_t *lenp,
                      int flags, int *err); /* alg.c */

static int do_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (!g_enabled)
        return REAL(connect)(fd, addr, len);
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(connect)(fd, addr, len);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if ((int)len < 0 || len > sizeof sa)
        ERRET(EINVAL);
    if (rn_copy_in(sa, addr, len) < 0)
        ERRET(EFAULT);
    copied = 1;
    if (INFO_KIND(s.info) == RN_KIND_UNIX) {
        r = unix_is_dgram(fd) ? unix_dgram_connect(fd, &s, sa, len, &err)
                              : unix_connect(fd, &s, sa, len, &err);
        goto out;
    }
    if (INFO_KIND(s.info) == RN_KIND_STREAM && (err = rn_ll_tcp(sa, len, 1)) != 0) {
        r = -1; /* Landlock (landlock.c) */
        goto out;
    }
    int fl = fcntl(fd, F_GETFL);
    int nb = fl >= 0 && (fl & O_NONBLOCK);
    struct rn_resp resp;
    /* A socket made here that never connected has a shut A: the host puts a fresh one
     * in place with the reply (rn_protocol.h RN_OP_CONNECT arg2), no filler from here */
    int unfilled = INFO_KIND(s.info) == RN_KIND_STREAM && (s.info & F_FRESH);
    for (int tries = 0;; tries++) {
        uint64_t filler = 0;
        if (!(s.info & F_CONNECTING) && INFO_KIND(s.info) == RN_KIND_STREAM) {
            if (!unfilled)
                filler = rn_fill(fd);
            rn_cache_flags(fd, &s, F_CONNECTING, F_FRESH);
            s.info = (s.info | F_CONNECTING) & ~F_FRESH;
        }
        int nfd = -1;
        if (rn_rpc(RN_OP_CONNECT, INFO_ID(s.info), (int64_t)filler, nb, unfilled, 0, sa, len,
                   &resp, NULL, 0, &nfd, 1) < 0)
            ERRET(errno);
        if (nfd >= 0) { /* the fresh A, with the connect's outcome */
            if (rn_install(fd, &s, nfd, (uint32_t)resp.arg[1], (int)resp.arg[0]) < 0)
                ERRET(errno);
            rn_cache_flags(fd, &s, F_CONNECTING, 0);
            s.info |= F_CONNECTING;
        }
        if (resp.ret < 0 && resp.err == RN_ERR_FILL && unfilled) {
            unfilled = 0; /* A was not shut after all: fill it as for any connect */
            rn_cache_flags(fd, &s, 0, F_CONNECTING);
            s.info &= ~F_CONNECTING;
            continue;
        }
        if (resp.ret < 0 && resp.err == RN_ERR_REOPEN && tries < 2) {
            if (rn_reopen(fd, &s) < 0) /* a writable A, without F_CONNECTING: refill */
                ERRET(errno);
            unfilled = 0;
            continue;
        }
        break;
    }
    if (resp.ret >= 0) {
        if (INFO_KIND(s.info) == RN_KIND_DGRAM)
            rn_dg_connected(fd, &s, sa, len);
        r = 0;
        goto out;
    }
    err = resp.err > 0 ? resp.err : EIO;
    if (err != EINPROGRESS || nb) {
        /* failed: a retry fills again; a blocking connect that fails disconnects the
         * socket on Linux (reads: ENOTCONN) */
        if (err != EINPROGRESS && err != EALREADY && err != EISCONN)
            rn_cache_flags(fd, &s, nb ? 0 : F_UNCONN, F_CONNECTING);
        r = -1;
        goto out;
    }
    /* Blocking connect: wait natively for A to turn writable (host discarded the
     * filler = established, or S closed = failed).  SO_SNDTIMEO bounds it as on
     * Linux (timeout -> EINPROGRESS). */
    int timeout = -1;
    struct timeval tv;
    socklen_t tl = sizeof tv;
    if (REAL(getsockopt)(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) == 0 &&
        (tv.tv_sec > 0 || tv.tv_usec > 0)) {
        long long ms = (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
        timeout = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int k = poll(&p, 1, timeout);
    if (k < 0)
        ERRET(errno); /* EINTR, like Linux */
    if (k == 0)
        ERRET(EINPROGRESS);
    int v = 0;
    if (rn_sock_error(fd, &s, &v) < 0)
        ERRET(errno);
    if (v != 0) {
        rn_cache_flags(fd, &s, F_UNCONN, F_CONNECTING);
        ERRET(v);
    }
    r = 0;
out:
    if (g_trace_on)
        trace_addr_call("connect", fd, sa, (long)(int)len, copied, addr, r, err);
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* listen / shutdown                                                         */

static int do_listen(int fd, int backlog)
{
    if (!g_enabled)
        return REAL(listen)(fd, backlog);
    int saved = errno, err = 0, r;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(listen)(fd, backlog);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    struct rn_resp resp;
    int nfd = -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (s.info & F_FRESH) { /* options set from now on are the listener's: sent at once */
        rn_cache_flags(fd, &s, 0, F_FRESH);
        s.info &= ~F_FRESH;
    }
    if (rn_sock_rpc(fd, &s, RN_OP_LISTEN, backlog, 0, 0, 0, NULL, 0, &resp, NULL, 0, &nfd,
                    fdfl >= 0 && (fdfl & FD_CLOEXEC)) < 0)
        ERRET(errno);
    r = (int)rn_result(&resp);
    err = errno;
    if (r > 0 && nfd >= 0) { /* AF_UNIX: the listener's fd from now on (unix.c) */
        r = unix_install(fd, &s, nfd, (uint32_t)r);
        err = errno;
        if (r == 0)
            rn_fill(fd); /* a listener never polls writable: its A stays full */
    } else if (nfd >= 0) {
        REAL(close)(nfd);
    }
    if (r == 0)
        rn_cache_flags(fd, &s, F_LISTENER, 0);
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "listen", fd);
        tb_add(&t, ", %d)", backlog);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

static int do_shutdown(int fd, int how)
{
    if (!g_enabled)
        return REAL(shutdown)(fd, how);
    int saved = errno, err = 0, r;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(shutdown)(fd, how);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    struct rn_resp resp;
    if (rn_sock_rpc(fd, &s, RN_OP_SHUTDOWN, how, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL,
               0) < 0)
        ERRET(errno);
    r = (int)rn_result(&resp);
    err = errno;
    if (INFO_KIND(s.info) == RN_KIND_DGRAM)
        rn_dg_shutdown(fd, &s, how, r == 0 || err == ENOTCONN); /* dgram.c */
    else if (r == 0)
        REAL(shutdown)(fd, how);
out:
    if (g_trace_on) {
        static const struct nm nm_how[] = {NM(SHUT_RD), NM(SHUT_WR), NM(SHUT_RDWR)};
        struct tb t;
        tb_start(&t, "shutdown", fd);
        tb_add(&t, ", ");
        tb_sym(&t, nm_how, NMLEN(nm_how), how);
        tb_add(&t, ")");
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* getsockname / getpeername                                                 */

/* Store a kernel-style sockaddr result: copy min(*ulen, klen), *ulen = klen. */
static int rn_put_addr(struct sockaddr *uaddr, socklen_t *ulen, const void *ka, size_t klen,
                       int *shown_len)
{
    int len;
    if (rn_copy_in(&len, ulen, sizeof len) < 0)
        return -1;
    if (len < 0) { /* Linux: int len; if (len > klen) len = klen; if (len < 0) EINVAL */
        errno = EINVAL;
        return -1;
    }
    if ((size_t)len > klen)
        len = (int)klen;
    socklen_t kl = (socklen_t)klen;
    if (rn_copy_out2(uaddr, ka, (size_t)len, ulen, &kl, sizeof kl) < 0)
        return -1;
    *shown_len = (int)klen;
    return 0;
}

static int do_getname(int op, int fd, struct sockaddr *addr, socklen_t *lenp)
{
    int peer = op == RN_OP_GETPEERNAME;
    if (!g_enabled)
        return peer ? REAL(getpeername)(fd, addr, lenp) : REAL(getsockname)(fd, addr, lenp);
    int saved = errno, err = 0, r, shown = -1;
    struct rn_sock s;
    unsigned char ka[RN_MAX_PAYLOAD];
    size_t klen = 0;
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return peer ? REAL(getpeername)(fd, addr, lenp) : REAL(getsockname)(fd, addr, lenp);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if (peer && INFO_KIND(s.info) == RN_KIND_UNIX && unix_is_dgram(fd)) {
        if (unix_dgram_peername(fd, ka, &klen) < 0)
            ERRET(errno);
    } else {
        struct rn_resp resp;
        if (rn_sock_rpc(fd, &s, (uint32_t)op, 0, 0, 0, 0, NULL, 0, &resp, ka, sizeof ka, NULL,
                        0) < 0)
            ERRET(errno);
        if (rn_result(&resp) < 0)
            ERRET(errno);
        klen = resp.payload_len;
    }
    if (rn_put_addr(addr, lenp, ka, klen, &shown) < 0)
        ERRET(errno);
    r = 0;
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, peer ? "getpeername" : "getsockname", fd);
        tb_add(&t, ", ");
        if (r == 0)
            tb_addr(&t, ka, klen);
        else
            tb_add(&t, "%p", (void *)addr);
        if (shown >= 0)
            tb_add(&t, ", [%d])", shown);
        else
            tb_add(&t, ", %p)", (void *)lenp);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* getsockopt / setsockopt                                                   */

static int rn_is_timeo(int level, int opt, int *snd)
{
    if (level != SOL_SOCKET)
        return 0;
    if (opt == 20 || opt == 66) { /* SO_RCVTIMEO_OLD / _NEW */
        *snd = 0;
        return 1;
    }
    if (opt == 21 || opt == 67) { /* SO_SNDTIMEO_OLD / _NEW */
        *snd = 1;
        return 1;
    }
    return 0;
}

static int do_getsockopt(int fd, int level, int opt, void *val, socklen_t *lenp)
{
    if (!g_enabled)
        return REAL(getsockopt)(fd, level, opt, val, lenp);
    int saved = errno, err = 0, r, ulen = -1, outlen = -1;
    struct rn_sock s;
    unsigned char kv[RN_MAX_PAYLOAD];
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(getsockopt)(fd, level, opt, val, lenp);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    int snd;
    if (INFO_KIND(s.info) == RN_KIND_STREAM && rn_is_timeo(level, opt, &snd)) {
        /* a TCP socket's timeouts are A's own: they are what ends a blocking call */
        r = REAL(getsockopt)(fd, level, opt, val, lenp);
        err = errno;
        goto out;
    }
    if (rn_copy_in(&ulen, lenp, sizeof ulen) < 0)
        ERRET(EFAULT);
    if (ulen < 0)
        ERRET(EINVAL);
    if (INFO_KIND(s.info) == RN_KIND_UNIX &&
        !(level == SOL_SOCKET && (opt == SO_PEERCRED || opt == SO_ACCEPTCONN))) {
        errno = saved; /* the kernel socket's own options */
        return REAL(getsockopt)(fd, level, opt, val, lenp);
    }
    struct rn_resp resp;
    int32_t kept;
    int local = 0;
    if ((s.info & F_FRESH) && level == SOL_SOCKET && (opt == SO_SNDBUF || opt == SO_RCVBUF) &&
        rn_lock() == 0) {
        local = rn_defer_readback(INFO_ID(s.info), opt, &kept);
        rn_unlock();
    }
    if (local) { /* set here and kept (defer.c): what the host will read back */
        memcpy(kv, &kept, sizeof kept);
        resp.payload_len = sizeof kept;
    } else {
        if (rn_sock_rpc(fd, &s, RN_OP_GETSOCKOPT, level, opt, ulen, 0, NULL, 0, &resp, kv,
                        sizeof kv, NULL, 0) < 0)
            ERRET(errno);
        if (rn_result(&resp) < 0)
            ERRET(errno);
    }
    size_t n = resp.payload_len;
    if (n > (size_t)ulen)
        n = (size_t)ulen;
    socklen_t nl = (socklen_t)n;
    if (rn_copy_out2(val, kv, n, lenp, &nl, sizeof nl) < 0)
        ERRET(EFAULT);
    outlen = (int)n;
    if (level == SOL_SOCKET && opt == SO_ERROR && n >= sizeof(int)) {
        int v;
        memcpy(&v, kv, sizeof v);
        if (v != 0)
            rn_cache_flags(fd, &s, 0, F_CONNECTING);
    }
    if (level == SOL_SOCKET && opt == SO_ACCEPTCONN && n >= sizeof(int)) {
        int v;
        memcpy(&v, kv, sizeof v);
        rn_cache_flags(fd, &s, v ? F_LISTENER : 0, v ? 0 : F_LISTENER);
    }
    r = 0;
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "getsockopt", fd);
        tb_add(&t, ", ");
        tb_level_opt(&t, level, opt);
        tb_add(&t, ", ");
        if (outlen >= 0) {
            tb_optval(&t, level, opt, kv, (size_t)outlen);
            tb_add(&t, ", [%d])", outlen);
        } else {
            tb_add(&t, "%p, %p)", val, (void *)lenp);
        }
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

static int do_setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    if (!g_enabled)
        return REAL(setsockopt)(fd, level, opt, val, len);
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char kv[RN_MAX_PAYLOAD];
    size_t n = 0;
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(setsockopt)(fd, level, opt, val, len);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if (INFO_KIND(s.info) == RN_KIND_UNIX) {
        errno = saved; /* the kernel socket's own options */
        return REAL(setsockopt)(fd, level, opt, val, len);
    }
    if ((int)len < 0)
        ERRET(EINVAL);
    n = len > sizeof kv ? sizeof kv : len;
    if (level == SOL_ALG && opt == ALG_SET_AEAD_AUTHSIZE)
        n = 0; /* the tag size is optlen itself; optval is not read */
    if (rn_copy_in(kv, val, n) < 0)
        ERRET(EFAULT);
    copied = 1;
    int snd;
    if (INFO_KIND(s.info) == RN_KIND_STREAM && rn_is_timeo(level, opt, &snd)) {
        /* a TCP socket's timeouts are A's own (the kernel checks the value) */
        r = REAL(setsockopt)(fd, level, opt, val, len);
        err = errno;
        goto out;
    }
    if ((s.info & F_FRESH) && n >= sizeof(int) && g_acting_pid == 0) {
        int32_t v;
        int a_sndbuf = 0, kept = 0;
        memcpy(&v, kv, sizeof v);
        if (rn_lock() == 0) {
            /* the limits are those of this process's connection, which made the socket */
            kept = g_ctl_fd >= 0 && g_ctl_pid == rn_getpid() &&
                   rn_defer_keep(INFO_ID(s.info), level, opt, v, &a_sndbuf);
            rn_unlock();
        }
        if (kept) { /* sent with the socket's next call (defer.c) */
            if (a_sndbuf > 0) /* A buffers no more than the stack does behind it */
                REAL(setsockopt)(fd, SOL_SOCKET, SO_SNDBUF, &a_sndbuf, sizeof a_sndbuf);
            r = 0;
            goto out;
        }
    }
    if (level == SOL_SOCKET && (opt == SO_ATTACH_BPF || opt == SO_ATTACH_REUSEPORT_EBPF) &&
        n >= sizeof(int)) {
        int prog; /* a program fd: only this process knows whether it is open */
        memcpy(&prog, kv, sizeof prog);
        if (fcntl(prog, F_GETFD) < 0)
            ERRET(EBADF);
    }
    struct rn_resp resp;
    if (INFO_KIND(s.info) == RN_KIND_ALG && level == SOL_ALG && opt == ALG_SET_KEY &&
        len > sizeof kv) {
        /* a key longer than one payload (Linux takes up to optmem_max): in parts,
         * arg3 = the part's offset; the host sets the key with the last one */
        for (size_t off = 0;; off += n) {
            n = len - off > sizeof kv ? sizeof kv : len - off;
            if (rn_copy_in(kv, (const char *)val + off, n) < 0)
                ERRET(EFAULT);
            if (rn_rpc(RN_OP_SETSOCKOPT, INFO_ID(s.info), level, opt, (int64_t)len, (int64_t)off,
                       kv, n, &resp, NULL, 0, NULL, 0) < 0)
                ERRET(errno);
            if (resp.ret < 0 || off + n == len)
                break;
        }
    } else if (rn_sock_rpc(fd, &s, RN_OP_SETSOCKOPT, level, opt, (int64_t)len, 0, kv, n, &resp,
                           NULL, 0, NULL, 0) < 0)
        ERRET(errno);
    r = (int)rn_result(&resp);
    err = errno;
    if (r == 0 && rn_is_timeo(level, opt, &snd))
        REAL(setsockopt)(fd, level, opt, kv, (socklen_t)n); /* native timeouts on A */
    if (r == 0 && level == SOL_SOCKET && opt == SO_LINGER && n >= sizeof(struct linger) &&
        INFO_KIND(s.info) == RN_KIND_STREAM) {
        struct linger lg;
        memcpy(&lg, kv, sizeof lg);
        int on = lg.l_onoff && lg.l_linger > 0;
        rn_cache_flags(fd, &s, on ? F_LINGER : 0, on ? 0 : F_LINGER);
    }
    if (r == 0 && level == SOL_SOCKET && opt == SO_OOBINLINE &&
        INFO_KIND(s.info) == RN_KIND_STREAM)
        REAL(setsockopt)(fd, level, opt, kv, (socklen_t)n); /* urgent data arrives on A */
    if (r == 0 && level == SOL_SOCKET && (opt == SO_SNDBUF || opt == SO_SNDBUFFORCE) &&
        resp.arg[0] > 0 && INFO_KIND(s.info) == RN_KIND_STREAM) {
        int v = (int)resp.arg[0]; /* A buffers no more than the stack does behind it */
        REAL(setsockopt)(fd, SOL_SOCKET, opt, &v, sizeof v);
    }
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "setsockopt", fd);
        tb_add(&t, ", ");
        tb_level_opt(&t, level, opt);
        tb_add(&t, ", ");
        if (copied)
            tb_optval(&t, level, opt, kv, n);
        else
            tb_add(&t, "%p", val);
        tb_add(&t, ", %d)", (int)len);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* accept                                                                    */

static int do_accept(int fd, struct sockaddr *addr, socklen_t *lenp, int flags, int is4)
{
    if (!g_enabled)
        return is4 ? REAL(accept4)(fd, addr, lenp, flags) : REAL(accept)(fd, addr, lenp);
    int saved = errno, err = 0, r, shown = -1, nfd = -1;
    struct rn_sock s;
    struct rn_accept_rec rec;
    memset(&rec, 0, sizeof rec);
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return is4 ? REAL(accept4)(fd, addr, lenp, flags) : REAL(accept)(fd, addr, lenp);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK))
        ERRET(EINVAL);
    if (INFO_KIND(s.info) == RN_KIND_ALG) {
        r = alg_accept(fd, &s, addr, lenp, flags, &err);
        goto out;
    }
    if (INFO_KIND(s.info) == RN_KIND_DGRAM ||
        (INFO_KIND(s.info) == RN_KIND_UNIX && unix_is_dgram(fd)))
        ERRET(EOPNOTSUPP);
    if (!(s.info & F_LISTENER)) {
        struct rn_resp resp;
        int v = 0;
        if (rn_sock_rpc(fd, &s, RN_OP_GETSOCKOPT, SOL_SOCKET, SO_ACCEPTCONN, sizeof v, 0,
                   NULL, 0, &resp, &v, sizeof v, NULL, 0) < 0)
            ERRET(errno);
        if (rn_result(&resp) < 0)
            ERRET(errno);
        if (!v)
            ERRET(EINVAL);
        rn_cache_flags(fd, &s, F_LISTENER, 0);
    }
    size_t got = 0;
    while (got < sizeof rec) {
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int) * 4)];
        } cm;
        struct iovec iov = {(char *)&rec + got, sizeof rec - got};
        struct msghdr mh;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof cm.buf;
        int rf = (flags & SOCK_CLOEXEC) ? MSG_CMSG_CLOEXEC : 0;
        ssize_t n = REAL(recvmsg)(fd, &mh, got ? rf | MSG_WAITALL : rf);
        if (n < 0) {
            if (got && errno == EINTR)
                continue;
            err = got ? EPROTO : errno;
            goto fail;
        }
        for (struct cmsghdr *cmh = CMSG_FIRSTHDR(&mh); cmh; cmh = CMSG_NXTHDR(&mh, cmh)) {
            if (cmh->cmsg_level != SOL_SOCKET || cmh->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (cmh->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(cmh) + i * sizeof(int), sizeof f);
                if (nfd < 0)
                    nfd = f;
                else
                    REAL(close)(f);
            }
        }
        if (n == 0) { /* the host closed the listener */
            err = EINVAL;
            goto fail;
        }
        if (nfd < 0 && (mh.msg_flags & MSG_CTRUNC) && got == 0) {
            err = EMFILE; /* no room for the new fd */
            got += (size_t)n;
            if (got < sizeof rec)
                continue; /* consume the rest of the record, then fail */
            goto fail;
        }
        got += (size_t)n;
    }
    if (nfd < 0) {
        err = err ? err : EPROTO;
        goto fail;
    }
    if (flags & SOCK_NONBLOCK) {
        int fl = fcntl(nfd, F_GETFL);
        fcntl(nfd, F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
    }
    if (rec.addrlen > sizeof rec.addr)
        rec.addrlen = sizeof rec.addr;
    if (addr != NULL) {
        if (rn_put_addr(addr, lenp, rec.addr, rec.addrlen, &shown) < 0) {
            err = errno; /* Linux drops the connection too */
            goto fail;
        }
    }
    struct stat st;
    if (fstat(nfd, &st) == 0)
        rn_cache_set(nfd, st.st_ino,
                     rn_mkinfo(ST_SHIM, rec.sock_id, INFO_KIND(s.info), F_CONNECTING));
    if (INFO_KIND(s.info) == RN_KIND_UNIX) { /* out of the listener's backlog */
        struct rn_resp resp;
        int e = errno;
        char mark;
        REAL(recv)(nfd, &mark, 1, MSG_DONTWAIT); /* the host's marker (shim/unix.py) */
        rn_rpc(RN_OP_UNIX_ACCEPTED, rec.sock_id, 0, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL, 0);
        errno = e;
    }
    r = nfd;
    goto out;
fail:
    if (nfd >= 0)
        REAL(close)(nfd);
    r = -1;
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, is4 ? "accept4" : "accept", fd);
        tb_add(&t, ", ");
        if (r >= 0 && addr != NULL)
            tb_addr(&t, rec.addr, rec.addrlen);
        else if (addr == NULL)
            tb_add(&t, "NULL");
        else
            tb_add(&t, "%p", (void *)addr);
        if (shown >= 0)
            tb_add(&t, ", [%d]", shown);
        else if (lenp == NULL)
            tb_add(&t, ", NULL");
        else
            tb_add(&t, ", %p", (void *)lenp);
        if (is4) {
            tb_add(&t, ", ");
            tb_sockflags(&t, flags);
        }
        tb_add(&t, ")");
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

#include "dgram.c" /* datagram shim sockets (UDP) */
#include "alg.c"   /* AF_ALG sockets, on the datagram interposers */
#include "urgent.c" /* TCP urgent data where AF_UNIX's MSG_OOB differs */

/* ------------------------------------------------------------------------ */
/* MSG_MORE: Linux holds a TCP send with MSG_MORE back until a send without it.  The
 * host does the same (RN_OP_MORE) for what the program writes to A meanwhile.  The
 * check after a send without MSG_MORE is one load from the cache, no syscall.      */

static void rn_more(int fd, int on)
{
    int saved = errno;
    struct rn_sock s;
    if (rn_classify(fd, &s) > 0 && INFO_KIND(s.info) == RN_KIND_STREAM &&
        !(s.info & F_MORE) == !!on) {
        struct rn_resp resp;
        if (rn_rpc(RN_OP_MORE, INFO_ID(s.info), on, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL, 0) ==
                0 && resp.ret >= 0)
            rn_cache_flags(fd, &s, on ? F_MORE : 0, on ? 0 : F_MORE);
    }
    errno = saved;
}

static inline int rn_more_pending(int fd)
{
    return g_enabled && fd >= 0 && fd < RN_CACHE_N &&
           (__atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED) & F_MORE);
}

#define MORE_PRE(fd, flags)                                \
    do {                                                   \
        if (RN_UNLIKELY(g_enabled && ((flags) & MSG_MORE))) \
            rn_more(fd, 1);                                \
    } while (0)
#define MORE_POST(fd, flags)                                         \
    do {                                                             \
        if (RN_UNLIKELY(!((flags) & MSG_MORE) && rn_more_pending(fd))) \
            rn_more(fd, 0);                                          \
    } while (0)

/* The urgent byte of an n-byte MSG_OOB send whose first n - 1 bytes went through A. */
static ssize_t rn_oob_last(int fd, struct rn_sock *s, unsigned char last, size_t n, int flags,
                           int saved)
{
    struct rn_resp resp;
    if (rn_sock_rpc(fd, s, RN_OP_OOB, 0, 0, 0, 0, &last, 1, &resp, NULL, 0, NULL, 0) < 0 ||
        rn_result(&resp) < 0) {
        if (n > 1)
            return (ssize_t)(n - 1);
        if (errno == EPIPE && !(flags & MSG_NOSIGNAL))
            raise(SIGPIPE);
        return -1;
    }
    errno = saved;
    return (ssize_t)n;
}

/* MSG_OOB on a TCP shim socket: the bytes before the last go through A as usual, the
 * last one to the host (RN_OP_OOB), which queues it as urgent data behind them.  The
 * receiving side gets it out of band on its A (the host sends it to S with MSG_OOB),
 * so POLLPRI, SIOCATMARK and SO_OOBINLINE are the kernel's own.
 * Returns -2 if fd is not a shim stream socket (the caller goes on natively).       */
static ssize_t rn_oob_send(int fd, const void *buf, size_t n, int flags)
{
    int saved = errno;
    struct rn_sock s;
    if (n == 0 || rn_classify(fd, &s) <= 0 || INFO_KIND(s.info) != RN_KIND_STREAM) {
        errno = saved;
        return -2;
    }
    unsigned char last;
    if (rn_copy_in(&last, (const unsigned char *)buf + n - 1, 1) < 0) {
        errno = EFAULT;
        return -1;
    }
    if (n > 1) {
        ssize_t r = REAL(send)(fd, buf, n - 1, flags & ~MSG_OOB);
        if (r < 0 || (size_t)r < n - 1)
            return r;
    }
    return rn_oob_last(fd, &s, last, n, flags, saved);
}

/* sendmsg(MSG_OOB) on a TCP shim socket, m a safe copy of the msghdr: as
 * rn_oob_send, the urgent byte being the last byte of the last non-empty iovec.     */
static ssize_t rn_oob_sendmsg_iov(int fd, struct rn_sock *s, struct msghdr *m, int flags,
                                  struct iovec *iov)
{
    int saved = errno, e;
    size_t cnt = m->msg_iovlen, total, k = m->msg_iovlen;
    if ((e = dg_iov_in(iov, m->msg_iov, cnt)) != 0 || (e = dg_iov_total(iov, cnt, &total)) != 0) {
        errno = e;
        return -1;
    }
    if (total == 0)
        return REAL(sendmsg)(fd, m, flags);
    while (iov[k].iov_len == 0)
        k--;
    unsigned char last;
    if (rn_copy_in(&last, (const unsigned char *)iov[k].iov_base + iov[k].iov_len - 1, 1) < 0) {
        errno = EFAULT;
        return -1;
    }
    if (total > 1) {
        iov[k].iov_len--;
        m->msg_iov = iov + 1;
        m->msg_iovlen = k;
        ssize_t r = REAL(sendmsg)(fd, m, flags & ~MSG_OOB);
        if (r < 0 || (size_t)r < total - 1)
            return r;
    }
    return rn_oob_last(fd, s, last, total, flags, saved);
}

static ssize_t rn_oob_sendmsg(int fd, struct rn_sock *s, struct msghdr *m, int flags)
{
    struct rn_iovbuf b;
    struct iovec *iov = rn_iov_get(&b, m->msg_iovlen + 1);
    if (iov == NULL) {
        errno = ENOMEM;
        return -1;
    }
    ssize_t r = rn_oob_sendmsg_iov(fd, s, m, flags, iov);
    rn_iov_put(&b, iov);
    return r;
}

#define OOB_SEND(fd, buf, n, flags)                                    \
    do {                                                               \
        if (RN_UNLIKELY(((flags) & MSG_OOB) && g_enabled)) {           \
            ssize_t r_ = rn_oob_send(fd, buf, n, flags);                \
            if (r_ != -2) {                                            \
                if (g_trace_on)                                        \
                    trace_io("send", fd, (long)(n), 1, flags, r_, errno); \
                return r_;                                             \
            }                                                          \
        }                                                              \
    } while (0)

/* ------------------------------------------------------------------------ */
/* sendto / sendmsg / recvfrom / recvmsg                                     */

/* sendto/sendmsg with MSG_FASTOPEN on a TCP socket (tcp_sendmsg_fastopen): the
 * connect happens first, then the data goes as from a connected socket.  Data rides
 * in the SYN only with a cookie from an earlier connection; none is kept here, so
 * this is Linux's first connection to a server: blocking, the send completes after
 * the handshake; non-blocking, EINPROGRESS and nothing queued.  The client must be
 * enabled (net.ipv4.tcp_fastopen bit 0), else EOPNOTSUPP.  0, or -1 with *err. */
static int rn_fastopen(int fd, const unsigned char *sa, socklen_t alen, int *err)
{
    static int client = -1; /* the sysctl's client bit, read once */
    if (client < 0) {
        char v[16] = "1";
        int f = open("/proc/sys/net/ipv4/tcp_fastopen", O_RDONLY | O_CLOEXEC);
        if (f >= 0) {
            ssize_t k = REAL(read)(f, v, sizeof v - 1);
            v[k > 0 ? k : 0] = 0;
            REAL(close)(f);
        }
        client = (int)(strtol(v, NULL, 0) & 1);
    }
    if (!client || (sa != NULL && alen >= sizeof(sa_family_t) &&
                    ((const struct sockaddr *)sa)->sa_family == AF_UNSPEC)) {
        *err = EOPNOTSUPP;
        return -1;
    }
    if (do_connect(fd, (const struct sockaddr *)sa, alen) < 0) {
        *err = errno;
        return -1;
    }
    return 0;
}

static ssize_t do_sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *addr, socklen_t alen)
{
    if (!g_enabled)
        return REAL(sendto)(fd, buf, n, flags, addr, alen);
    int saved = errno, err = 0, copied = 0;
    ssize_t r;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return REAL(sendto)(fd, buf, n, flags, addr, alen);
    }
    if (c < 0)
        ERRET(ENETDOWN);
    if (INFO_KIND(s.info) == RN_KIND_DGRAM || INFO_KIND(s.info) == RN_KIND_ALG) {
        errno = saved;
        return dg_sendto(fd, &s, buf, n, flags, addr, alen, "sendto");
    }
    if (unix_listener_send(fd, n, flags, addr != NULL && alen != 0))
        ERRET(errno);
    if (INFO_KIND(s.info) == RN_KIND_UNIX && addr != NULL && alen != 0) {
        struct iovec iov = {(void *)buf, n};
        struct msghdr m = {.msg_name = (void *)addr, .msg_namelen = alen, .msg_iov = &iov,
                           .msg_iovlen = 1};
        errno = saved;
        ssize_t u = unix_dgram_sendmsg(fd, &s, &m, flags);
        if (u != -2)
            return u;
    }
    if (INFO_KIND(s.info) != RN_KIND_STREAM) {
        errno = saved;
        return REAL(sendto)(fd, buf, n, flags, addr, alen);
    }
    if (addr != NULL) { /* the kernel copies it in even though TCP ignores it */
        if ((int)alen < 0 || alen > sizeof sa)
            ERRET(EINVAL);
        if (rn_copy_in(sa, addr, alen) < 0)
            ERRET(EFAULT);
        copied = 1;
    }
    if (RN_UNLIKELY(flags & MSG_FASTOPEN)) {
        if (rn_fastopen(fd, copied ? sa : NULL, alen, &err) < 0) {
            r = -1;
            goto out;
        }
        flags &= ~MSG_FASTOPEN;
    }
    errno = saved;
    OOB_SEND(fd, buf, n, flags);
    MORE_PRE(fd, flags);
    r = REAL(send)(fd, buf, n, flags);
    err = errno;
    MORE_POST(fd, flags);
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "sendto", fd);
        tb_add(&t, ", %zu, ", n);
        tb_flags(&t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
        tb_add(&t, ", ");
        if (copied)
            tb_addr(&t, sa, alen);
        else if (addr == NULL)
            tb_add(&t, "NULL");
        else
            tb_add(&t, "%p", (const void *)addr);
        tb_add(&t, ", %d)", (int)alen);
        tb_ret(&t, (long)r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* a msghdr summary: name length, iovec count and bytes, control messages by level/type */
static void tb_msghdr(struct tb *t, const struct msghdr *m, socklen_t namelen)
{
    size_t total = 0, n = m->msg_iovlen;
    struct iovec iov[16];
    size_t k = n < 16 ? n : 16;
    if (k && rn_copy_in(iov, m->msg_iov, k * sizeof *iov) == 0)
        for (size_t i = 0; i < k; i++)
            total += iov[i].iov_len;
    tb_add(t, "{name=%u, iov=[%zu%s, %zu bytes], control=", (unsigned)namelen, n,
           n > 16 ? "+" : "", total);
    unsigned char cbuf[512] __attribute__((aligned(8)));
    size_t cl = m->msg_controllen < sizeof cbuf ? m->msg_controllen : sizeof cbuf;
    if (!m->msg_control || cl == 0 || rn_copy_in(cbuf, m->msg_control, cl) < 0) {
        tb_add(t, "%zu", (size_t)m->msg_controllen);
    } else {
        struct msghdr c = {0};
        c.msg_control = cbuf;
        c.msg_controllen = cl;
        tb_add(t, "[");
        int first = 1;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&c); h; h = CMSG_NXTHDR(&c, h)) {
            tb_add(t, first ? "" : ", ");
            tb_level_opt(t, h->cmsg_level, h->cmsg_type);
            tb_add(t, "(%zu)", (size_t)h->cmsg_len);
            first = 0;
        }
        tb_add(t, "]");
    }
    tb_add(t, ", flags=");
    tb_flags(t, nm_msg, NMLEN(nm_msg), (unsigned)m->msg_flags);
    tb_add(t, "}, ");
}

static ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!g_enabled)
        return REAL(sendmsg)(fd, msg, flags);
    rn_defer_flush(-1); /* it may pass a socket on (SCM_RIGHTS) */
    int saved = errno, err = 0, copied = 0;
    ssize_t r;
    struct rn_sock s;
    struct msghdr m;
    socklen_t namelen = 0;
    int c = rn_classify(fd, &s);
    if (c > 0 && (INFO_KIND(s.info) == RN_KIND_DGRAM || INFO_KIND(s.info) == RN_KIND_ALG)) {
        errno = saved;
        return dg_sendmsg(fd, &s, msg, flags);
    }
    if (c > 0 && (s.info & F_LISTENER) && INFO_KIND(s.info) == RN_KIND_UNIX &&
        rn_copy_in(&m, msg, sizeof m) == 0) {
        size_t n = 0; /* only whether it is 0 matters (unix_listener_send) */
        for (size_t k = 0; k < (size_t)m.msg_iovlen && n == 0; k++) {
            struct iovec v;
            n = rn_copy_in(&v, m.msg_iov + k, sizeof v) == 0 ? v.iov_len : 1;
        }
        if (unix_listener_send(fd, n, flags, m.msg_name != NULL && m.msg_namelen != 0))
            ERRET(errno);
    }
    if (c > 0 && INFO_KIND(s.info) == RN_KIND_UNIX && rn_copy_in(&m, msg, sizeof m) == 0 &&
        m.msg_name != NULL && m.msg_namelen != 0) {
        errno = saved;
        ssize_t u = unix_dgram_sendmsg(fd, &s, &m, flags);
        if (u != -2)
            return u;
    }
    if (c == 0 || (c > 0 && INFO_KIND(s.info) != RN_KIND_STREAM)) {
        errno = saved;
        return REAL(sendmsg)(fd, msg, flags);
    }
    memset(&m, 0, sizeof m);
    if (c < 0)
        ERRET(ENETDOWN);
    if (rn_copy_in(&m, msg, sizeof m) < 0)
        ERRET(EFAULT);
    copied = 1;
    namelen = m.msg_namelen;
    if (m.msg_name != NULL && m.msg_namelen != 0) {
        unsigned char sa[sizeof(struct sockaddr_storage)];
        if ((int)m.msg_namelen < 0)
            ERRET(EINVAL);
        size_t nl = m.msg_namelen > sizeof sa ? sizeof sa : m.msg_namelen;
        if (rn_copy_in(sa, m.msg_name, nl) < 0)
            ERRET(EFAULT);
    }
    if (RN_UNLIKELY(flags & MSG_FASTOPEN)) {
        unsigned char fsa[sizeof(struct sockaddr_storage)];
        socklen_t fl = m.msg_namelen > sizeof fsa ? sizeof fsa : m.msg_namelen;
        int have = m.msg_name != NULL && fl != 0;
        if (have && rn_copy_in(fsa, m.msg_name, fl) < 0)
            ERRET(EFAULT);
        if (rn_fastopen(fd, have ? fsa : NULL, fl, &err) < 0) {
            r = -1;
            goto out;
        }
        flags &= ~MSG_FASTOPEN;
    }
    m.msg_name = NULL;
    m.msg_namelen = 0;
    errno = saved;
    if (RN_UNLIKELY(flags & MSG_OOB)) {
        r = rn_oob_sendmsg(fd, &s, &m, flags);
        err = errno;
        goto out;
    }
    MORE_PRE(fd, flags);
    r = REAL(sendmsg)(fd, &m, flags);
    err = errno;
    MORE_POST(fd, flags);
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "sendmsg", fd);
        tb_add(&t, ", ");
        if (copied)
            tb_msghdr(&t, &m, namelen);
        else
            tb_add(&t, "%p, ", (const void *)msg);
        tb_flags(&t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
        tb_add(&t, ")");
        tb_ret(&t, (long)r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* MSG_ERRQUEUE on a shim stream socket: TCP's error queue is empty (no timestamping
 * or zerocopy notifications here), so Linux returns EAGAIN, blocking or not.
 * 1 = handled (errno set), 0 = not a shim stream fd. */
static int rn_errqueue(int fd)
{
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c > 0 && INFO_KIND(s.info) == RN_KIND_STREAM) {
        errno = EAGAIN;
        return 1;
    }
    errno = saved;
    return 0;
}

/* A read on a stream A ended (0, or ECONNRESET: S closed with unread bytes).  Linux's
 * TCP answers ENOTCONN on a socket that never connected and reports a reset once
 * (ECONNRESET, then 0); an AF_UNIX pair cannot say either, so the host does
 * (RN_OP_RDEND).  Only these endings pay for it: data reads are untouched. */
static ssize_t rn_rd_end_slow(int fd, ssize_t r)
{
    int e = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c < 0) { /* a shim socket whose host is gone: its connection is, too */
        errno = ECONNRESET;
        return -1;
    }
    if (c == 0 || INFO_KIND(s.info) != RN_KIND_STREAM || (s.info & F_LISTENER)) {
        errno = e;
        return r;
    }
    if (s.info & F_EOF)
        return 0;
    struct pollfd p = {fd, 0, 0};
    if (r == 0 && rn_libc_poll(&p, 1, 0) == 0) {
        /* no POLLHUP: S is open, so this 0 is the host's shutdown(S, SHUT_WR) for the
         * peer's FIN (or the program's own SHUT_RD): RN_OP_RDEND would answer 0 too */
        errno = e;
        return 0;
    }
    struct rn_resp resp;
    if (rn_rpc(RN_OP_RDEND, INFO_ID(s.info), r < 0 ? e : 0, 0, 0, 0, NULL, 0, &resp, NULL, 0,
               NULL, 0) < 0) {
        /* the host died: S closed with nothing left for A, which looks like an EOF; it
         * is a reset (a dead host never ends a stream cleanly) */
        errno = ECONNRESET;
        return -1;
    }
    if (resp.ret < 0)
        return rn_result(&resp);
    if (resp.arg[0] == 1)
        rn_cache_flags(fd, &s, F_EOF, 0);
    errno = e;
    return 0;
}

static inline ssize_t rn_rd_end(int fd, ssize_t r)
{
    if (RN_UNLIKELY(r <= 0) && g_enabled && (r == 0 || errno == ECONNRESET))
        return rn_rd_end_slow(fd, r);
    return r;
}

/* 1 if fd is a stream shim socket whose host is gone (or no longer knows it, a new
 * host at the same place): its S closed because the host died.  errno kept. */
static int rn_host_gone(int fd)
{
    int e = errno;
    struct rn_sock s;
    struct rn_resp resp;
    int c = rn_classify(fd, &s);
    int gone = c < 0 ||
               (c > 0 && INFO_KIND(s.info) == RN_KIND_STREAM &&
                (rn_rpc(RN_OP_GETSOCKNAME, INFO_ID(s.info), 0, 0, 0, 0, NULL, 0, &resp, NULL, 0,
                        NULL, 0) < 0 ||
                 (resp.ret < 0 && resp.err == EBADF)));
    errno = e;
    return gone;
}

/* A write on a stream A failed with EPIPE: S is closed.  If the host that held it is
 * gone, the connection was reset, not shut down. */
static ssize_t rn_wr_end_slow(int fd)
{
    errno = rn_host_gone(fd) ? ECONNRESET : EPIPE;
    return -1;
}

static inline ssize_t rn_wr_end(int fd, ssize_t r)
{
    if (RN_UNLIKELY(r < 0) && errno == EPIPE && g_enabled)
        return rn_wr_end_slow(fd);
    return r;
}

/* A read on a TCP socket that never connected fails at once with ENOTCONN on Linux;
 * its A (empty, S open) would block.  Sockets this process made carry F_UNCONN until
 * they connect (RN_OP_REOPEN gives a fresh cache entry); while it is set, reads ask the
 * host first (one cache load otherwise).  1: fail with errno set, 0: read A. */
static int rn_unconn(int fd)
{
    int e = errno;
    struct rn_sock s;
    struct rn_resp resp;
    if (rn_classify(fd, &s) > 0 && (s.info & F_UNCONN) &&
        rn_rpc(RN_OP_RDEND, INFO_ID(s.info), -1, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL, 0) ==
            0) {
        if (resp.ret < 0) {
            rn_result(&resp);
            return 1;
        }
        rn_cache_flags(fd, &s, 0, F_UNCONN); /* connected, e.g. by another process */
    }
    errno = e;
    return 0;
}

/* What Linux checks before tcp_recvmsg: the buffer range (access_ok), the iovec array
 * (readable, at most UIO_MAXIOV) -> 0 or the errno. */
static int rn_buf_bad(const void *b, size_t n)
{
    uintptr_t p = (uintptr_t)b;
    return p + n < p || p + n > 0x7ffffffff000ULL ? EFAULT : 0; /* TASK_SIZE_MAX */
}

static int rn_iov_bad(const struct iovec *v, size_t cnt, int toomany)
{
    if (cnt > 1024)
        return toomany;
    for (size_t i = 0; i < cnt; i++) {
        struct iovec k;
        if (rn_copy_in(&k, v + i, sizeof k) < 0 || rn_buf_bad(k.iov_base, k.iov_len))
            return EFAULT;
    }
    return 0;
}

static int rn_msg_bad(const struct msghdr *msg)
{
    struct msghdr m;
    if (rn_copy_in(&m, msg, sizeof m) < 0)
        return EFAULT;
    return rn_iov_bad(m.msg_iov, m.msg_iovlen, EMSGSIZE);
}

/* bad: the errno of the argument checks that come first (0: none) */
#define UNCONN_CHECK(call, count, has_flags, flags, bad)                             \
    do {                                                                             \
        int e_;                                                                      \
        if (RN_UNLIKELY(g_enabled && fd >= 0 && fd < RN_CACHE_N &&                    \
                        (__atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED) &       \
                         F_UNCONN))) {                                               \
            if ((e_ = (bad)) != 0)                                                   \
                errno = e_;                                                          \
            if (e_ == 0 && !rn_unconn(fd))                                           \
                break;                                                               \
            if (g_trace_on)                                                          \
                trace_io(call, fd, (long)(count), has_flags, flags, -1, errno);      \
            return -1;                                                               \
        }                                                                            \
    } while (0)

/* What recv and recvfrom do before the kernel's call: datagram sockets read their
 * channel, MSG_ERRQUEUE on a stream shim socket is EAGAIN, a never-connected one ENOTCONN. */
#define RECV_PROLOGUE(call, fd, buf, n, flags, addr, alen)                                 \
    do {                                                                                \
        struct rn_sock ds_;                                                             \
        if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds_) > 0)                    \
            return dg_recvfrom(fd, &ds_, buf, n, flags, addr, alen, call);              \
        if (RN_UNLIKELY((flags) & MSG_ERRQUEUE) && g_enabled && rn_errqueue(fd)) {      \
            if (g_trace_on)                                                             \
                trace_io(call, fd, (long)(n), 1, flags, -1, EAGAIN);                    \
            return -1;                                                                  \
        }                                                                               \
        UNCONN_CHECK(call, n, 1, flags, rn_buf_bad(buf, n));                            \
    } while (0)

static ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                           socklen_t *alen)
{
    RECV_PROLOGUE("recvfrom", fd, buf, n, flags, addr, alen);
    if (!g_enabled)
        return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
    socklen_t cap = 0;
    if (addr != NULL && unix_hint(fd) && rn_copy_in(&cap, alen, sizeof cap) < 0)
        cap = 0;
    if (!g_trace_on) {
        ssize_t r = rn_rd_end(fd, URG_IO(fd, flags, REAL(recvfrom)(fd, buf, n, flags, addr, alen)));
        if (r >= 0 && cap)
            unix_fix_name(addr, alen, cap);
        return r;
    }
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    errno = saved;
    ssize_t r = rn_rd_end(fd, URG_IO(fd, flags, REAL(recvfrom)(fd, buf, n, flags, addr, alen)));
    if (r >= 0 && cap)
        unix_fix_name(addr, alen, cap);
    if (c > 0)
        trace_io_buf("recvfrom", fd, buf, (long)n, 1, flags, (long)r, errno);
    return r;
}

static ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_recvmsg(fd, &ds, msg, flags);
    if (RN_UNLIKELY(flags & MSG_ERRQUEUE) && g_enabled && rn_errqueue(fd)) {
        /* Linux copies and checks the msghdr before it looks at the error queue */
        struct msghdr m;
        int e = EAGAIN;
        if (rn_copy_in(&m, msg, sizeof m) < 0)
            e = EFAULT;
        else if ((int)m.msg_namelen < 0)
            e = EINVAL;
        else if (m.msg_iovlen > 1024) /* UIO_MAXIOV */
            e = EMSGSIZE;
        if (g_trace_on)
            trace_io("recvmsg", fd, 0, 1, flags, -1, e);
        errno = e;
        return -1;
    }
    UNCONN_CHECK("recvmsg", 0, 1, flags, rn_msg_bad(msg));
    if (!g_enabled)
        return REAL(recvmsg)(fd, msg, flags);
    struct msghdr m0;
    m0.msg_name = NULL;
    if (unix_hint(fd) && rn_copy_in(&m0, msg, sizeof m0) < 0)
        m0.msg_name = NULL;
    if (!g_trace_on) {
        ssize_t r = rn_rd_end(fd, URG_IO(fd, flags, REAL(recvmsg)(fd, msg, flags)));
        if (r >= 0 && m0.msg_name != NULL)
            unix_fix_name(m0.msg_name, &msg->msg_namelen, m0.msg_namelen);
        if (r >= 0)
            rn_dg_adopt_rights(msg);
        return r;
    }
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    errno = saved;
    ssize_t r = rn_rd_end(fd, URG_IO(fd, flags, REAL(recvmsg)(fd, msg, flags)));
    if (r >= 0 && m0.msg_name != NULL)
        unix_fix_name(m0.msg_name, &msg->msg_namelen, m0.msg_namelen);
    if (r >= 0)
        rn_dg_adopt_rights(msg);
    if (c > 0) {
        struct msghdr m;
        int e = errno;
        struct tb t;
        tb_start(&t, "recvmsg", fd);
        tb_add(&t, ", ");
        if (rn_copy_in(&m, msg, sizeof m) == 0)
            tb_msghdr(&t, &m, m.msg_namelen);
        else
            tb_add(&t, "%p, ", (void *)msg);
        tb_flags(&t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
        tb_add(&t, ")");
        tb_ret(&t, (long)r, e);
        tb_emit(&t);
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Exported interposers                                                      */

RN_EXPORT int rn_socket(int, int, int) __asm__("socket");
RN_EXPORT int rn_bind(int, const struct sockaddr *, socklen_t) __asm__("bind");
RN_EXPORT int rn_listen(int, int) __asm__("listen");
RN_EXPORT int rn_connect(int, const struct sockaddr *, socklen_t) __asm__("connect");
RN_EXPORT int rn_accept(int, struct sockaddr *, socklen_t *) __asm__("accept");
RN_EXPORT int rn_accept4(int, struct sockaddr *, socklen_t *, int) __asm__("accept4");
RN_EXPORT int rn_getsockname(int, struct sockaddr *, socklen_t *) __asm__("getsockname");
RN_EXPORT int rn_getpeername(int, struct sockaddr *, socklen_t *) __asm__("getpeername");
RN_EXPORT int rn_getsockopt(int, int, int, void *, socklen_t *) __asm__("getsockopt");
RN_EXPORT int rn_setsockopt(int, int, int, const void *, socklen_t) __asm__("setsockopt");
RN_EXPORT int rn_shutdown(int, int) __asm__("shutdown");
RN_EXPORT ssize_t rn_send(int, const void *, size_t, int) __asm__("send");
RN_EXPORT ssize_t rn_recv(int, void *, size_t, int) __asm__("recv");
RN_EXPORT ssize_t rn_sendto(int, const void *, size_t, int, const struct sockaddr *,
                            socklen_t) __asm__("sendto");
RN_EXPORT ssize_t rn_recvfrom(int, void *, size_t, int, struct sockaddr *,
                              socklen_t *) __asm__("recvfrom");
RN_EXPORT ssize_t rn_sendmsg(int, const struct msghdr *, int) __asm__("sendmsg");
RN_EXPORT ssize_t rn_recvmsg(int, struct msghdr *, int) __asm__("recvmsg");
RN_EXPORT ssize_t rn_read(int, void *, size_t) __asm__("read");
RN_EXPORT ssize_t rn_write(int, const void *, size_t) __asm__("write");
RN_EXPORT ssize_t rn_readv(int, const struct iovec *, int) __asm__("readv");
RN_EXPORT ssize_t rn_writev(int, const struct iovec *, int) __asm__("writev");
RN_EXPORT int rn_close(int) __asm__("close");
RN_EXPORT long rn_syscall(long, ...) __asm__("syscall");
RN_EXPORT int rn_socketpair(int, int, int, int *) __asm__("socketpair");

int rn_socket(int domain, int type, int protocol) { return do_socket(domain, type, protocol); }
int rn_socketpair(int domain, int type, int protocol, int *sv)
{
    return unix_socketpair(domain, type, protocol, sv);
}
int rn_bind(int fd, const struct sockaddr *a, socklen_t l) { return do_bind(fd, a, l); }
int rn_listen(int fd, int backlog) { return do_listen(fd, backlog); }
int rn_connect(int fd, const struct sockaddr *a, socklen_t l) { return do_connect(fd, a, l); }
int rn_accept(int fd, struct sockaddr *a, socklen_t *l) { return do_accept(fd, a, l, 0, 0); }
int rn_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags)
{
    return do_accept(fd, a, l, flags, 1);
}
int rn_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
    return do_getname(RN_OP_GETSOCKNAME, fd, a, l);
}
int rn_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
    return do_getname(RN_OP_GETPEERNAME, fd, a, l);
}
int rn_getsockopt(int fd, int level, int opt, void *v, socklen_t *l)
{
    return do_getsockopt(fd, level, opt, v, l);
}
int rn_setsockopt(int fd, int level, int opt, const void *v, socklen_t l)
{
    return do_setsockopt(fd, level, opt, v, l);
}
int rn_shutdown(int fd, int how) { return do_shutdown(fd, how); }
ssize_t rn_sendto(int fd, const void *b, size_t n, int flags, const struct sockaddr *a,
                  socklen_t l)
{
    return rn_wr_end(fd, do_sendto(fd, b, n, flags, a, l));
}
ssize_t rn_recvfrom(int fd, void *b, size_t n, int flags, struct sockaddr *a, socklen_t *l)
{
    return do_recvfrom(fd, b, n, flags, a, l);
}
ssize_t rn_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return rn_wr_end(fd, do_sendmsg(fd, m, flags));
}
ssize_t rn_recvmsg(int fd, struct msghdr *m, int flags) { return do_recvmsg(fd, m, flags); }

/* Pure pass-through data calls: classified and traced only when tracing. */
#define TRACED_IO(call, realcall, buf, count, has_flags, flags)              \
    do {                                                                     \
        if (RN_UNLIKELY(g_trace_on)) {                                       \
            int saved_ = errno;                                              \
            struct rn_sock s_;                                               \
            int c_ = rn_classify(fd, &s_);                                   \
            errno = saved_;                                                  \
            long r_ = (long)(realcall);                                      \
            if (c_ > 0)                                                      \
                trace_io_buf(call, fd, buf, (long)(count), has_flags, flags, r_, errno); \
            return r_;                                                       \
        }                                                                    \
        return realcall;                                                     \
    } while (0)

static ssize_t rn_send_io(int fd, const void *b, size_t n, int flags)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_sendto(fd, &ds, b, n, flags, NULL, 0, "send");
    TRACED_IO("send", REAL(send)(fd, b, n, flags), b, n, 1, flags);
}
ssize_t rn_send(int fd, const void *b, size_t n, int flags)
{
    if (RN_UNLIKELY(unix_listener_send(fd, n, flags, 0)))
        return -1;
    OOB_SEND(fd, b, n, flags);
    MORE_PRE(fd, flags);
    ssize_t r = rn_wr_end(fd, rn_send_io(fd, b, n, flags));
    MORE_POST(fd, flags);
    return r;
}
ssize_t rn_recv(int fd, void *b, size_t n, int flags)
{
    RECV_PROLOGUE("recv", fd, b, n, flags, NULL, NULL);
    TRACED_IO("recv", rn_rd_end(fd, URG_IO(fd, flags, REAL(recv)(fd, b, n, flags))), b, n, 1, flags);
}
ssize_t rn_read(int fd, void *b, size_t n)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_recvfrom(fd, &ds, b, n, 0, NULL, NULL, "read");
    UNCONN_CHECK("read", n, 0, 0, rn_buf_bad(b, n));
    TRACED_IO("read", rn_rd_end(fd, URG_IO(fd, 0, REAL(read)(fd, b, n))), b, n, 0, 0);
}
static ssize_t rn_write_io(int fd, const void *b, size_t n)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_sendto(fd, &ds, b, n, 0, NULL, 0, "write");
    TRACED_IO("write", REAL(write)(fd, b, n), b, n, 0, 0);
}
ssize_t rn_write(int fd, const void *b, size_t n)
{
    if (RN_UNLIKELY(unix_listener_send(fd, n, 0, 0)))
        return -1;
    ssize_t r = rn_wr_end(fd, rn_write_io(fd, b, n));
    MORE_POST(fd, 0);
    return r;
}
ssize_t rn_readv(int fd, const struct iovec *v, int cnt)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_readv(fd, &ds, v, cnt, 0);
    UNCONN_CHECK("readv", cnt, 0, 0, cnt < 0 ? EINVAL : rn_iov_bad(v, (size_t)cnt, EINVAL));
    TRACED_IO("readv", rn_rd_end(fd, URG_IO(fd, 0, REAL(readv)(fd, v, cnt))), NULL, cnt, 0, 0);
}
static ssize_t rn_writev_io(int fd, const struct iovec *v, int cnt)
{
    struct rn_sock ds;
    if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &ds) > 0)
        return dg_readv(fd, &ds, v, cnt, 1);
    TRACED_IO("writev", REAL(writev)(fd, v, cnt), NULL, cnt, 0, 0);
}
ssize_t rn_writev(int fd, const struct iovec *v, int cnt)
{
    if (RN_UNLIKELY(unix_listener_send(fd, 1, 0, 0)))
        return -1;
    ssize_t r = rn_wr_end(fd, rn_writev_io(fd, v, cnt));
    MORE_POST(fd, 0);
    return r;
}

/* _FORTIFY_SOURCE: glibc's checking variants call its internal read/recv, never the
 * interposers above, so they are caught too: the same check (abort on overflow), then
 * the same path as the plain call.  glibc only: musl has no __chk_fail to call. */
#ifdef __GLIBC__
extern void __chk_fail(void) __attribute__((noreturn));
RN_EXPORT ssize_t rn_read_chk(int, void *, size_t, size_t) __asm__("__read_chk");
RN_EXPORT ssize_t rn_recv_chk(int, void *, size_t, size_t, int) __asm__("__recv_chk");
RN_EXPORT ssize_t rn_recvfrom_chk(int, void *, size_t, size_t, int, struct sockaddr *,
                                  socklen_t *) __asm__("__recvfrom_chk");
ssize_t rn_read_chk(int fd, void *b, size_t n, size_t blen)
{
    if (n > blen)
        __chk_fail();
    return rn_read(fd, b, n);
}
ssize_t rn_recv_chk(int fd, void *b, size_t n, size_t blen, int flags)
{
    if (n > blen)
        __chk_fail();
    return rn_recv(fd, b, n, flags);
}
ssize_t rn_recvfrom_chk(int fd, void *b, size_t n, size_t blen, int flags, struct sockaddr *a,
                        socklen_t *l)
{
    if (n > blen)
        __chk_fail();
    return do_recvfrom(fd, b, n, flags, a, l);
}
#endif

/* close() of a TCP socket with SO_LINGER {1, secs}: Linux waits until what was sent is
 * acknowledged (the FIN too) or secs pass.  After the native close the host answers
 * RN_OP_LINGER with a waiter fd it closes when the stack socket is done (nothing if
 * other references to A remain); the wait happens natively on it.                   */
static int rn_linger_close(int fd, uint64_t info)
{
    int r = REAL(close)(fd);
    if (r < 0)
        return r;
    int saved = errno, wfd = -1;
    struct rn_resp resp;
    if (rn_rpc(RN_OP_LINGER, INFO_ID(info), 0, 0, 0, 0, NULL, 0, &resp, NULL, 0, &wfd, 1) ==
            0 && resp.ret > 0 && wfd >= 0) {
        struct pollfd p = {wfd, POLLIN, 0};
        long ms = resp.ret > INT_MAX / 1000 ? INT_MAX : (long)resp.ret * 1000;
        poll(&p, 1, (int)ms);
    }
    if (wfd >= 0)
        REAL(close)(wfd);
    errno = saved;
    return 0;
}

int rn_close(int fd)
{
    if (RN_UNLIKELY(g_enabled && fd >= 0 && fd < RN_CACHE_N)) {
        uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
        if (INFO_STATE(i) == ST_SHIM && INFO_KIND(i) == RN_KIND_STREAM)
            rn_epint_forget(fd);
    }
    if (RN_UNLIKELY(g_enabled && fd >= 0 && fd < RN_CACHE_N &&
                    (__atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED) & F_LINGER))) {
        uint64_t info = __atomic_exchange_n(&g_cache[fd].info, 0, __ATOMIC_ACQ_REL);
        if (info & F_LINGER) {
            int r = rn_linger_close(fd, info);
            if (g_trace_on) {
                struct tb t;
                tb_start(&t, "close", fd);
                tb_add(&t, ")");
                tb_ret(&t, r, errno);
                tb_emit(&t);
            }
            return r;
        }
    }
    if (RN_UNLIKELY(g_trace_on)) {
        int saved = errno;
        struct rn_sock s;
        int c = rn_classify(fd, &s);
        if (fd >= 0 && fd < RN_CACHE_N)
            __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
        errno = saved;
        int r = REAL(close)(fd);
        if (c > 0) {
            struct tb t;
            tb_start(&t, "close", fd);
            tb_add(&t, ")");
            tb_ret(&t, r, errno);
            tb_emit(&t);
        }
        return r;
    }
    if (g_enabled && fd >= 0 && fd < RN_CACHE_N) {
        uint64_t i = __atomic_exchange_n(&g_cache[fd].info, 0, __ATOMIC_ACQ_REL);
        if (RN_UNLIKELY(i & F_FRESH) && INFO_STATE(i) == ST_SHIM)
            rn_defer_forget(INFO_ID(i)); /* its kept options die with it */
    }
    rn_ll_unwitness(fd); /* landlock.c */
    return REAL(close)(fd);
}

static long rn_uring_refused(void); /* uring.c */
static void rn_ll_ruleset(long fd, const void *attr, size_t size, unsigned long flags);
static void rn_ll_restricted(int fd); /* landlock.c */

RN_EXPORT int rn_fcntl(int, int, ...) __asm__("fcntl"); /* trace.c */
long rn_syscall(long nr, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (g_enabled) {
        switch (nr) {
#ifdef SYS_socket
        case SYS_socket: return do_socket((int)a[0], (int)a[1], (int)a[2]);
        case SYS_bind: return do_bind((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2]);
        case SYS_listen: return do_listen((int)a[0], (int)a[1]);
        case SYS_connect:
            return do_connect((int)a[0], (const struct sockaddr *)a[1], (socklen_t)a[2]);
        case SYS_accept:
            return do_accept((int)a[0], (struct sockaddr *)a[1], (socklen_t *)a[2], 0, 0);
        case SYS_accept4:
            return do_accept((int)a[0], (struct sockaddr *)a[1], (socklen_t *)a[2], (int)a[3], 1);
        case SYS_getsockname:
            return do_getname(RN_OP_GETSOCKNAME, (int)a[0], (struct sockaddr *)a[1],
                              (socklen_t *)a[2]);
        case SYS_getpeername:
            return do_getname(RN_OP_GETPEERNAME, (int)a[0], (struct sockaddr *)a[1],
                              (socklen_t *)a[2]);
        case SYS_getsockopt:
            return do_getsockopt((int)a[0], (int)a[1], (int)a[2], (void *)a[3], (socklen_t *)a[4]);
        case SYS_setsockopt:
            return do_setsockopt((int)a[0], (int)a[1], (int)a[2], (const void *)a[3],
                                 (socklen_t)a[4]);
        case SYS_shutdown: return do_shutdown((int)a[0], (int)a[1]);
        case SYS_sendto:
            return do_sendto((int)a[0], (const void *)a[1], (size_t)a[2], (int)a[3],
                             (const struct sockaddr *)a[4], (socklen_t)a[5]);
        case SYS_recvfrom:
            return do_recvfrom((int)a[0], (void *)a[1], (size_t)a[2], (int)a[3],
                               (struct sockaddr *)a[4], (socklen_t *)a[5]);
        case SYS_sendmsg: return do_sendmsg((int)a[0], (const struct msghdr *)a[1], (int)a[2]);
        case SYS_recvmsg: return do_recvmsg((int)a[0], (struct msghdr *)a[1], (int)a[2]);
        case SYS_sendmmsg:
            return rn_sendmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3]);
        case SYS_recvmmsg:
            return rn_recvmmsg((int)a[0], (struct mmsghdr *)a[1], (unsigned)a[2], (int)a[3],
                               (struct timespec *)a[4]);
#endif
#ifdef SYS_io_uring_setup
        case SYS_io_uring_setup: return rn_uring_refused(); /* uring.c */
#endif
#ifdef SYS_landlock_create_ruleset
        case SYS_landlock_create_ruleset: {
            long r = REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            int e = errno;
            rn_ll_ruleset(r, (const void *)a[0], (size_t)a[1], (unsigned long)a[2]);
            errno = e;
            return r;
        }
        case SYS_landlock_restrict_self: {
            long r = REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
            if (r == 0) {
                int e = errno;
                rn_ll_restricted((int)a[0]);
                errno = e;
            }
            return r;
        }
#endif
        /* the data and fd-number calls, so a datagram fd is served and known as via libc */
        case SYS_read: return rn_read((int)a[0], (void *)a[1], (size_t)a[2]);
        case SYS_write: return rn_write((int)a[0], (const void *)a[1], (size_t)a[2]);
        case SYS_readv: return rn_readv((int)a[0], (const struct iovec *)a[1], (int)a[2]);
        case SYS_writev: return rn_writev((int)a[0], (const struct iovec *)a[1], (int)a[2]);
        case SYS_close: return rn_close((int)a[0]);
        case SYS_dup: return rn_dup((int)a[0]);
#ifdef SYS_dup2
        case SYS_dup2: return rn_dup2((int)a[0], (int)a[1]);
#endif
        case SYS_dup3: return rn_dup3((int)a[0], (int)a[1], (int)a[2]);
        case SYS_fcntl: return rn_fcntl((int)a[0], (int)a[1], a[2]);
        default: break;
        }
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#include "exec.c" /* every exec picks the preload build of the new image's loader */

/* ------------------------------------------------------------------------ */
/* Load time: read the environment only (plus adopting ROCKETNET_CTL_FD).     */

static void rn_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&g_lock, &fresh, sizeof fresh);
    memcpy(&g_tlock, &fresh, sizeof fresh);
    memcpy(&g_plock, &fresh, sizeof fresh);
    memcpy(&g_dlock, &fresh, sizeof fresh);
    t_held = 0; /* the forking thread's: a child has no other thread */
    /* g_ctl_pid != getpid() now: the next RPC makes this process's connection */
}

/* Are we LD_PRELOADed (interposing), rather than dlopen'ed (RTLD_LOCAL) by some
 * process?  Only then may the environment be acted upon: such a process with
 * ROCKETNET_CTL_FD in its environment must not have that fd moved or the variable
 * removed. */
static int rn_is_preloaded(void)
{
    if (dlsym(RTLD_DEFAULT, "socket") == (void *)rn_socket)
        return 1;
    /* another preload library may come first: look for ourselves in LD_PRELOAD */
    Dl_info di;
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || dladdr((void *)rn_socket, &di) == 0 || !di.dli_fname)
        return 0;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    size_t bl = strlen(base);
    for (const char *p = strstr(pre, base); p; p = strstr(p + 1, base)) {
        char after = p[bl];
        int start_ok = p == pre || p[-1] == '/' || p[-1] == ':' || p[-1] == ' ';
        if (start_ok && (after == 0 || after == ':' || after == ' '))
            return 1;
    }
    return 0;
}

__attribute__((constructor)) static void rn_init(int argc, char **argv)
{
    rn_self_init();
    const char *sock = getenv(RN_ENV_SOCK);
    const char *ctl = getenv(RN_ENV_CTL_FD);
    const char *trace = getenv(RN_ENV_TRACE);
    const char *dialer = getenv(RN_ENV_DIALER_FD);
    rn_resolve_all();
    if ((!sock && !ctl) || !rn_is_preloaded())
        return; /* pass-through everywhere */
    int ctl_fd = -1;
    if (ctl) {
        char *end;
        long v = strtol(ctl, &end, 10);
        if (end != ctl && *end == 0 && v >= 0 && v < INT_MAX)
            ctl_fd = (int)v;
        unsetenv(RN_ENV_CTL_FD); /* grandchildren must not take it */
    }
    if (!sock || !*sock || strlen(sock) >= sizeof g_sock_path)
        return; /* pass-through everywhere */
    memcpy(g_sock_path, sock, strlen(sock) + 1);
    if (trace && *trace && strlen(trace) < sizeof g_trace_path) {
        memcpy(g_trace_path, trace, strlen(trace) + 1);
        g_trace_on = 1;
        rn_tr_opts(getenv(RN_ENV_TRACE_OPTS));
    }
    if (ctl_fd >= 0 && rn_fd_ino(ctl_fd) != 0) {
        /* Move it off the low numbers now: the program must see Linux's numbering. */
        g_adopt_fd = rn_move_high(ctl_fd);
        g_adopt_ino = rn_fd_ino(g_adopt_fd);
        g_adopt_pid = rn_getpid();
    }
    if (dialer) {
        char *end;
        long v = strtol(dialer, &end, 10);
        int type = 0;
        socklen_t tl = sizeof type;
        if (end != dialer && *end == 0 && v >= 0 && v < INT_MAX && rn_fd_ino((int)v) != 0 &&
            REAL(getsockopt)((int)v, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
            type == SOCK_SEQPACKET) {
            /* High and inheritable: every exec'd image of this process tree finds it. */
            int fd = (int)v, h = rn_high_base();
            if (fd < h) {
                int n = fcntl(fd, F_DUPFD, h);
                if (n >= 0) {
                    REAL(close)(fd);
                    fd = n;
                }
            }
            fcntl(fd, F_SETFD, 0);
            g_dialer_fd = fd;
            g_dialer_ino = rn_fd_ino(fd);
            char num[16];
            snprintf(num, sizeof num, "%d", fd);
            setenv(RN_ENV_DIALER_FD, num, 1);
        } else {
            unsetenv(RN_ENV_DIALER_FD);
        }
    }
    pthread_atfork(NULL, NULL, rn_atfork_child);
    rn_ll_init(); /* landlock.c */
    rn_exec_init();
    g_enabled = 1;
    if (g_trace_on)
        rn_tr_image(argc, argv);
    rn_dg_scan(); /* datagram fds inherited over exec (dgram.c) */
}

#include "ifreq.c" /* SIOCGIF* ioctls, NETLINK_ROUTE, getifaddrs & co. */
#include "trace.c" /* tracing of poll, select, epoll, fcntl, sendfile, splice */
#include "resolv.c" /* getaddrinfo & co.: names resolve in the stack's world */
#include "uring.c"  /* io_uring refused: ENOSYS */
#include "landlock.c" /* Landlock network rules and scoping under the shim */
#include "epint.c" /* epoll interests carried over a replaced A */
#include "gone.c"  /* poll and epoll report a dead host's sockets as reset */

static void rn_resolve_all(void)
{
    for (int i = 0; i < R_COUNT; i++)
        rn_resolve(i);
    static const struct {
        void **slot;
        const char *name;
    } more[] = {
        {&g_real_recvmmsg, "recvmmsg"}, {&g_real_sendmmsg, "sendmmsg"}, {&g_real_dup, "dup"},
        {&g_real_dup2, "dup2"}, {&g_real_dup3, "dup3"}, {&g_real_ioctl, "ioctl"},
        {&g_real_nametoindex, "if_nametoindex"}, {&g_real_indextoname, "if_indextoname"},
        {&g_real_nameindex, "if_nameindex"}, {&g_real_getifaddrs, "getifaddrs"},
        {&g_real_fcntl, "fcntl"}, {&g_real_poll, "poll"}, {&g_real_ppoll, "ppoll"},
        {&g_real_select, "select"}, {&g_real_pselect, "pselect"},
        {&g_real_epoll_ctl, "epoll_ctl"}, {&g_real_epoll_wait, "epoll_wait"},
        {&g_real_epoll_pwait, "epoll_pwait"}, {&g_real_sendfile, "sendfile"},
        {&g_real_splice, "splice"},
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        rn_sym(more[i].slot, more[i].name);
}

#include "seccomp.c" /* hooks for the seccomp supervisor (rocketnet run --via seccomp) */
