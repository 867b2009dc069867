/* internal.h - what the units of the preload stub share (never installed, never seen
 * by a program).
 *
 * The stub is a plain C shared object, built once per C library and machine by
 * c_stub/build_preload.py (shim/preload/rocketnet-<arch>-<libc>.so) from the units
 * below and LD_PRELOADed into unmodified programs.  Nothing of Python in it.
 *
 * Model (docs/ARCHITECTURE.md; wire protocol: rn_protocol.h): a shim socket is the app
 * end "A" of an AF_UNIX socket pair whose other end the stack host holds.  The stub
 * recognises A by its abstract name + SO_PEERCRED and turns the control calls (bind,
 * listen, connect, get/setsockopt, ...) into short RPCs on a per-process
 * SOCK_SEQPACKET control connection kept at a high fd.  Data calls
 * (read/write/send/recv...) go natively to A; they are intercepted only to strip
 * addresses (sendto/sendmsg) and for tracing (ROCKETNET_TRACE).
 *
 * Units: core.c (libc's functions resolved at load, state, locks, the fd cache, safe
 * copies, load time), self.c (the pid), rpc.c (the control connection), defer.c
 * (options sent later), classify.c (is this fd ours), control.c (socket, bind,
 * connect, listen, shutdown, get*name, get/setsockopt, accept), stream.c (sendto,
 * sendmsg, recvfrom, recvmsg; MSG_MORE, MSG_OOB, read and write endings), urgent.c,
 * dgram.c + dgmsg.c (datagram sockets), unix.c (AF_UNIX), alg.c (AF_ALG), ifreq.c
 * (interfaces), resolv.c (names), interpose.c (the exported socket and data calls),
 * tracefmt.c + traceopt.c (the trace line), trace.c (traced poll, select, epoll,
 * fcntl, sendfile, splice), epint.c, gone.c, exec.c + program.c, landlock.c, uring.c,
 * seccomp.c (hooks for the seccomp supervisor).
 *
 * Design choices worth knowing:
 * - Interposers are defined under private C names bound to the libc symbol with an
 *   asm label (e.g. rn_socket -> "socket"), so no unit redefines the glibc prototypes
 *   (transparent-union sockaddr args, _FORTIFY_SOURCE inlines).  Only they are
 *   exported: everything declared here is hidden (the pragma below, and
 *   -fvisibility=hidden for what is not declared here).
 * - The stub never calls its own interposers: internal I/O uses the real functions
 *   resolved with dlsym(RTLD_NEXT).
 * - Fork: the control connection is re-made when getpid() changes.  In the child
 *   the parent's connection is forgotten; it is closed only if it is one the stub
 *   made itself and the fd still refers to it (same st_ino); the adopted
 *   ROCKETNET_CTL_FD copy is never closed in a child (it is FD_CLOEXEC at a high
 *   number, so exec drops it).
 * - New control connections (fork child, exec'd image) are made through the inherited
 *   dialer (ROCKETNET_DIALER_FD, rn_dial) when there is one, so a process that dropped
 *   privileges keeps its stack; else by connecting to ctl.sock.  A uid change keeps
 *   the connection: the host takes each request's sender from the kernel.
 * - vfork is not handled specially: a vfork child that makes socket calls before
 *   exec would make its own connection in the shared memory; the parent then
 *   notices the pid mismatch and reconnects (its old connection leaks).
 * - An RPC issued from a signal handler that interrupted an RPC of the same thread
 *   fails with EINTR instead of deadlocking.
 */
#ifndef RN_INTERNAL_H
#define RN_INTERNAL_H

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

#define RN_EXPORT __attribute__((visibility("default")))
#define RN_UNLIKELY(x) __builtin_expect(!!(x), 0)

#pragma GCC visibility push(hidden)

/* The stub's own fcntl and poll calls go to libc's, never to the tracing interposers
 * (trace.c).  Every fcntl the stub makes passes an int or nothing (then 0). */
int rn_libc_fcntl(int fd, int cmd, ...);
int rn_libc_poll(struct pollfd *fds, nfds_t n, int timeout);
#define fcntl(...) rn_libc_fcntl(__VA_ARGS__, 0)
#define poll rn_libc_poll

/* ------------------------------------------------------------------------ */
/* Real functions (core.c)                                                   */

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

enum {
    R_socket, R_bind, R_listen, R_connect, R_accept, R_accept4, R_getsockname,
    R_getpeername, R_getsockopt, R_setsockopt, R_shutdown, R_send, R_recv, R_sendto,
    R_recvfrom, R_sendmsg, R_recvmsg, R_read, R_write, R_readv, R_writev, R_close,
    R_syscall, R_socketpair, R_COUNT
};
extern void *rn_real_ptr[R_COUNT];
void *rn_resolve_slow(int i);
/* libc's function i: one load on every call (inline: the data path pays no call) */
static inline void *rn_resolve(int i)
{
    void *p = __atomic_load_n(&rn_real_ptr[i], __ATOMIC_ACQUIRE);
    return RN_UNLIKELY(p == NULL) ? rn_resolve_slow(i) : p;
}
#define REAL(name) ((f_##name##_t)rn_resolve(R_##name))

/* The other libc calls the stub forwards, each with its slot in the unit that uses it;
 * rn_resolve_all (core.c) fills every slot at load, so no interposer calls dlsym (not
 * async-signal-safe) later.  An interposer called before our constructor resolves its
 * own. */
void *rn_sym(void **slot, const char *name);
extern void *g_real_recvmmsg, *g_real_sendmmsg, *g_real_dup, *g_real_dup2,
    *g_real_dup3;                                                    /* dgmsg.c */
extern void *g_real_ioctl;                                           /* urgent.c */
extern void *g_real__exit;                                           /* traceopt.c */
extern void *g_real_nametoindex, *g_real_indextoname, *g_real_nameindex,
    *g_real_getifaddrs;                                              /* ifreq.c */
extern void *g_real_fcntl, *g_real_poll, *g_real_ppoll, *g_real_select, *g_real_pselect,
    *g_real_epoll_ctl, *g_real_epoll_wait, *g_real_epoll_pwait, *g_real_sendfile,
    *g_real_splice;                                                  /* trace.c */
extern void *g_real_closefrom;                                       /* interpose.c */
typedef int (*f_ioctl_t)(int, unsigned long, ...);
typedef int (*f_epoll_ctl_t)(int, int, int, struct epoll_event *);

/* ------------------------------------------------------------------------ */
/* Global state (core.c unless noted)                                        */

extern int g_enabled;                      /* ROCKETNET_SOCK set at load */
extern char g_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
extern int g_trace_on;                     /* ROCKETNET_TRACE set (and enabled) */
extern char g_trace_path[4096];

extern int g_adopt_fd;                     /* ROCKETNET_CTL_FD, moved high at load */
extern pid_t g_adopt_pid;
extern ino_t g_adopt_ino;

extern pthread_mutex_t g_lock;             /* control RPCs */
extern int g_ctl_fd;
extern int g_ctl_touched;                /* its number was closed or replaced (rn_ctl_touch) */
extern pid_t g_ctl_pid;
extern ino_t g_ctl_ino;
extern int g_ctl_adopted;
extern pid_t g_host_pid;                   /* from HELLO; 0 = unknown */
extern int g_oob_quirks;                   /* from HELLO: RN_HELLO_OOB_* (urgent.c) */
extern int g_tclass_sock;                  /* from HELLO: RN_HELLO_TCLASS_SOCK (dgmsg.c) */
extern int g_dialer_fd;                    /* ROCKETNET_DIALER_FD, inherited, no CLOEXEC */
extern ino_t g_dialer_ino;
extern char g_nonce[RN_NONCE_LEN + 1];
extern pid_t g_warned_pid;

extern pthread_mutex_t g_tlock;            /* trace file */
extern pthread_mutex_t g_dlock;            /* datagram destinations (dgram.c) */

/* The stub's locks, taken only through rn_guard.  A signal handler that re-enters the
 * stub while its thread holds one would deadlock on it: the thread's bit is set BEFORE
 * the lock is taken (no window), and a re-entry finds it and backs off (-1). */
enum { RN_L_CTL = 1, RN_L_TRACE = 2, RN_L_PIPE = 4, RN_L_DGRAM = 8 };
int rn_guard(pthread_mutex_t *m, unsigned bit);
void rn_unguard(pthread_mutex_t *m, unsigned bit);

/* seccomp.c: the process and fd a supervisor thread acts for (0: our own calls) */
extern __thread int g_acting_pid, g_acting_slot, g_acting_fd;

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
#define F_DG_CONN (1ULL << 50)     /* datagram: connected (a default peer) */
#define F_DG_PEER6 (1ULL << 51)    /* datagram: the peer is IPv6 (65527-byte limit) */
#define F_DG_SHUTWR (1ULL << 52)   /* datagram: shut down for writing: sends fail, EPIPE */
#define F_MORE (1ULL << 53)        /* a send with MSG_MORE told the host to hold data */
/* bits 54-55 are urgent.c's (F_OOBHEAD, F_OOBMARK) */
#define F_LINGER (1ULL << 56)      /* SO_LINGER on with a timeout: close() waits (rn_linger) */
#define F_EOF (1ULL << 58)         /* stream A read a final EOF (after a FIN): reads stay 0 */
#define F_UNCONN (1ULL << 59)      /* TCP socket made here, maybe never connected (rn_unconn) */
#define F_DG_ERRPEND (1ULL << 60)  /* recvmmsg took an error record after datagrams:
                                    * report it next */
#define F_FRESH (1ULL << 61)       /* TCP socket made here, no connect or listen tried yet: its
                                    * A is shut (connect swaps it), options wait (defer.c) */
struct rn_fdent {
    uint64_t ino;
    uint64_t info;
};
extern struct rn_fdent g_cache[RN_CACHE_N];
/* the fd classified last: the fd an RPC about its socket is most likely for (only a hint
 * for the host, so threads racing on it do no harm) */
extern int g_last_fd;

struct rn_sock {
    uint64_t ino;
    uint64_t info;
};

void rn_cache_clear(void);
void rn_cache_set(int fd, uint64_t ino, uint64_t info);
void rn_cache_flags(int fd, const struct rn_sock *s, uint64_t set, uint64_t clear);
uint64_t rn_mkinfo(uint64_t state, uint32_t id, int kind, uint64_t flags);

/* core.c: small helpers and safe access to (possibly bad) user memory */
void rn_write_all(int fd, const char *s, size_t n);
int rn_copy_in(void *dst, const void *src, size_t n);
int rn_copy_out(void *dst, const void *src, size_t n);
int rn_copy_out2(void *d1, const void *s1, size_t n1, void *d2, const void *s2, size_t n2);
int rn_high_base(void);
int rn_move_high(int fd);
ino_t rn_fd_ino(int fd);

/* self.c */
void rn_self_init(void);
pid_t rn_getpid(void);

/* ------------------------------------------------------------------------ */
/* Control connection (rpc.c, defer.c)                                       */

void rn_ctl_touch(int lo, int hi);
int rn_lock(void);
void rn_unlock(void);
/* or'ed into an RPC's cloexec argument: the payload is the program's memory, passed
 * unread (the kernel's copy is the safe copy); unreadable, the RPC fails with EFAULT
 * and nothing is sent */
#define RN_RPC_USER 0x40000000
int rn_rpc(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2, int64_t a3,
           const void *payload, size_t plen, struct rn_resp *resp, void *rbuf, size_t rcap,
           int *rfd, int cloexec);
int rn_rpc_fd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2, int64_t a3,
              const void *payload, size_t plen, int sfd, struct rn_resp *resp, void *rbuf,
              size_t rcap, int *rfd, int cloexec);
int rn_rpc_getfd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2,
                 const void *payload, size_t plen, struct rn_resp *resp);
int rn_sock_rpc(int fd, struct rn_sock *s, uint32_t op, int64_t a0, int64_t a1, int64_t a2,
                int64_t a3, const void *payload, size_t plen, struct rn_resp *resp, void *rbuf,
                size_t rcap, int *rfd, int cloexec);
long rn_result(const struct rn_resp *resp);
int rn_host_identity(char *nonce, pid_t *pid);
int rn_install(int fd, struct rn_sock *s, int nfd, uint32_t id, int kind, int fl,
               uint64_t ino);
int rn_reopen(int fd, struct rn_sock *s);
void rn_defer_flush(int fd);

#define RN_DEFER_SLOTS 16
#define RN_DEFER_MAX 8
struct rn_defer {
    uint32_t id; /* 0: free */
    uint32_t n;
    unsigned bufs;                      /* 1: SO_SNDBUF, 2: SO_RCVBUF set (on A too) */
    struct rn_setopt o[RN_DEFER_MAX];   /* in the program's order */
};
extern struct rn_defer g_defer[RN_DEFER_SLOTS];
extern int g_defer_used;   /* slots in use: RPCs check the table only when there are */
extern int64_t g_keep_opts; /* HELLO arg0: 1: options may be kept (defer.c); 0: none */
int rn_defer_keep(uint32_t id, int level, int opt, int32_t v);
int rn_defer_readback(uint32_t id, int opt);
uint32_t rn_defer_peek(uint32_t id, struct rn_setopt *out);
void rn_defer_drop(uint32_t id);
void rn_defer_forget(uint32_t id);

/* ------------------------------------------------------------------------ */
/* Classification (classify.c)                                               */

int rn_classify(int fd, struct rn_sock *s);

/* ------------------------------------------------------------------------ */
/* Tracing (tracefmt.c, traceopt.c)                                          */

struct tb {
    char b[1536];
    size_t n;
    int skip;                       /* a call the trace filter (-e) leaves out */
};
struct nm {
    long v;
    const char *s;
};
#define NM(x) {x, #x}
#define NMLEN(t) (sizeof(t) / sizeof((t)[0]))

__attribute__((format(printf, 2, 3))) void tb_add(struct tb *t, const char *fmt, ...);
void tb_sym(struct tb *t, const struct nm *tab, size_t n, long v);
void tb_flags(struct tb *t, const struct nm *tab, size_t n, unsigned long v);
void tb_stype(struct tb *t, int type);
void tb_sockflags(struct tb *t, int flags);
void tb_level_opt(struct tb *t, int level, int opt);
void tb_addr(struct tb *t, const void *sa, size_t len);
void tb_optval(struct tb *t, int level, int opt, const unsigned char *v, size_t len);
void tb_ret(struct tb *t, long r, int err);
void tb_ptr(struct tb *t, const void *p);
void tb_start(struct tb *t, const char *call, int fd);
void tb_emit(struct tb *t);
void tb_family(struct tb *t, int family);
void tb_msgflags(struct tb *t, int flags);
void tb_msghdr(struct tb *t, const struct msghdr *m, socklen_t namelen);
void trace_io_buf(const char *call, int fd, const void *buf, long count, int has_flags,
                  int flags, long r, int err);
void trace_io(const char *call, int fd, long count, int has_flags, int flags, long r, int err);

extern int g_tr_sockids;
void rn_tr_opts(const char *o);
int rn_tr_wanted(const char *call);
void rn_tr_image(int argc, char **argv);
void rn_tr_execve(const char *exe, int argc, char **argv);
void rn_tr_exited(int status);
void tb_time(struct tb *t);
void tb_payload(struct tb *t, const void *buf, long r);
int rn_sc_hold(const struct tb *t); /* seccomp.c */
const void *rn_sc_theirs(const void *p);

/* ------------------------------------------------------------------------ */
/* The calls (control.c, stream.c, interpose.c)                              */

/* The end of every call the stub serves: err and r set, then the trace line at out. */
#define ERRET(e)       \
    do {               \
        err = (e);     \
        r = -1;        \
        goto out;      \
    } while (0)

/* The prologue of every call on an fd that the stub serves: the whole call goes to libc
 * (pass: the call expression) unless fd is a shim socket, s then filled; one whose host
 * is unreachable fails with ENETDOWN (its trace line still written).  Needs saved (the
 * caller's errno), err, r and the out: label. */
#define RN_SHIM_OR_PASS(fd, s, pass)                        \
    do {                                                    \
        int c_ = g_enabled ? rn_classify(fd, &(s)) : 0;     \
        if (c_ == 0) {                                      \
            errno = saved;                                  \
            return pass;                                    \
        }                                                   \
        if (c_ < 0)                                         \
            ERRET(ENETDOWN);                                \
    } while (0)

int do_socket(int domain, int type, int protocol);
int do_bind(int fd, const struct sockaddr *addr, socklen_t len);
int do_connect(int fd, const struct sockaddr *addr, socklen_t len);
int do_listen(int fd, int backlog);
int do_shutdown(int fd, int how);
int do_getname(int op, int fd, struct sockaddr *addr, socklen_t *lenp);
int do_getsockopt(int fd, int level, int opt, void *val, socklen_t *lenp);
int do_setsockopt(int fd, int level, int opt, const void *val, socklen_t len);
int do_accept(int fd, struct sockaddr *addr, socklen_t *lenp, int flags, int is4);
int rn_put_addr(struct sockaddr *uaddr, socklen_t *ulen, const void *ka, size_t klen,
                int *shown_len);
int rn_sock_error(int fd, const struct rn_sock *s, int *val);

ssize_t do_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                  socklen_t alen);
ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
                    socklen_t *alen);
ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t rn_rd_end_slow(int fd, ssize_t r);
ssize_t rn_wr_end_slow(int fd);
int rn_host_gone(int fd);
void rn_more(int fd, int on);
ssize_t rn_oob_send(int fd, const void *buf, size_t n, int flags);
int rn_errqueue(int fd);
int rn_unconn(int fd);
int rn_buf_bad(const void *b, size_t n);
int rn_iov_bad(const struct iovec *v, size_t cnt, int toomany);

/* A read on a stream A ended: rn_rd_end_slow says how (stream.c). */
static inline ssize_t rn_rd_end(int fd, ssize_t r)
{
    if (RN_UNLIKELY(r <= 0) && g_enabled && (r == 0 || errno == ECONNRESET))
        return rn_rd_end_slow(fd, r);
    return r;
}

/* A write on a stream A failed with EPIPE: rn_wr_end_slow says why (stream.c). */
static inline ssize_t rn_wr_end(int fd, ssize_t r)
{
    if (RN_UNLIKELY(r < 0) && errno == EPIPE && g_enabled)
        return rn_wr_end_slow(fd);
    return r;
}

/* MSG_MORE (stream.c, rn_more): the check after a send without it is one cache load. */
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
        DG_PATH(fd, ds_, dg_recvfrom(fd, &ds_, buf, n, flags, addr, alen, call));       \
        if (RN_UNLIKELY((flags) & MSG_ERRQUEUE) && g_enabled && rn_errqueue(fd)) {      \
            if (g_trace_on)                                                             \
                trace_io(call, fd, (long)(n), 1, flags, -1, EAGAIN);                    \
            return -1;                                                                  \
        }                                                                               \
        UNCONN_CHECK(call, n, 1, flags, rn_buf_bad(buf, n));                            \
    } while (0)

/* ------------------------------------------------------------------------ */
/* TCP urgent data (urgent.c)                                                */

int urg_before(int fd, int flags);
int urg_after(int fd, int flags, ssize_t r, int at);
int urg_mark(int fd);

/* call: a read of fd with flags, made again when the kernel stalled it on the empty byte */
#define URG_IO(fd, flags, call)                                                    \
    __extension__({                                                                \
        ssize_t r_;                                                                \
        if (RN_UNLIKELY(g_oob_quirks) && g_enabled) {                              \
            int at_ = urg_before(fd, flags);                                       \
            r_ = (call);                                                           \
            if (urg_after(fd, flags, r_, at_))                                     \
                r_ = (call);                                                       \
        } else {                                                                   \
            r_ = (call);                                                           \
        }                                                                          \
        r_;                                                                        \
    })

/* ------------------------------------------------------------------------ */
/* Datagram sockets (dgram.c, dgmsg.c) and AF_ALG (alg.c)                     */

#define RN_DG_IOV_MAX 1024
/* An iovec array of n entries (with our header's, at most RN_DG_IOV_MAX + 1): on the
 * stack for the usual counts, else mapped (mmap is async-signal-safe, and a handler's
 * stack is small: 1025 entries are 16 KiB). */
#define RN_IOV_SMALL 17
struct rn_iovbuf {
    struct iovec small[RN_IOV_SMALL];
    size_t maplen;
};
struct iovec *rn_iov_get(struct rn_iovbuf *b, size_t n);
void rn_iov_put(struct rn_iovbuf *b, struct iovec *v);
int dg_iov_in(struct iovec *iov, const struct iovec *uiov, size_t cnt);
int dg_iov_total(const struct iovec *iov, size_t cnt, size_t *total);

/* What a receive found besides the payload. */
struct dg_rres {
    int msg_flags;
    socklen_t addrlen;
    unsigned char addr[28];
    uint16_t hflags;
    uint8_t tos, ttl;
    uint32_t ifindex;
    unsigned char local[16];
    unsigned char ee[16 + 28]; /* MSG_ERRQUEUE: sock_extended_err + offender */
    size_t eelen;
};
#define DG_RES_RECVERR 0x8000 /* res->ee holds an IP_RECVERR / IPV6_RECVERR cmsg */
/* per-datagram IP_TTL / IPV6_HOPLIMIT (DG_CM_TTL | value) and IP_TOS / IPV6_TCLASS
 * (DG_CM_TOS | value << 16) asked for by sendmsg's control data (dg_send_ctl) */
#define DG_CM_TTL 0x100u
#define DG_CM_TOS 0x1000000u

/* Is fd (by the cache alone, no syscall) a datagram shim fd or a candidate?  The data
 * interposers ask this first: stream and non-shim fds go straight on. */
static inline int rn_dg_hint(int fd)
{
    if (!g_enabled || fd < 0 || fd >= RN_CACHE_N)
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
    return (INFO_STATE(i) == ST_SHIM &&
            (INFO_KIND(i) == RN_KIND_DGRAM || INFO_KIND(i) == RN_KIND_ALG)) ||
           INFO_STATE(i) == ST_DG_CANDIDATE;
}
/* A number a call passed to the kernel just made (socket, accept, socketpair): what the
 * cache remembers of an fd closed there unseen is stale (dg_confirm trusts the cache). */
static inline int rn_fd_fresh(int fd)
{
    if (g_enabled && fd >= 0 && fd < RN_CACHE_N)
        __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
    return fd;
}
int dg_confirm(int fd, struct rn_sock *s);
int dg_stale(int fd, const struct rn_sock *s, ssize_t r);

/* The datagram path of a call when the cache says fd is our datagram socket: return
 * what `call` (with ds) gives, unless the entry proves stale (dg_stale): then on to the
 * caller's own path. */
#define DG_PATH(fd, ds, call)                                               \
    do {                                                                    \
        if (RN_UNLIKELY(rn_dg_hint(fd)) && dg_confirm(fd, &(ds)) > 0) {     \
            ssize_t r_ = (call);                                            \
            if (!dg_stale(fd, &(ds), r_))                                   \
                return r_;                                                  \
        }                                                                   \
    } while (0)
void rn_dg_scan(void);
void rn_dg_adopt_rights(const struct msghdr *msg);
void rn_dg_connected(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len);
void rn_dg_shutdown(int fd, struct rn_sock *s, int how, int done);
void rn_dg_dup_cache(int oldfd, int newfd);
int rn_dg_take_error(int fd, struct rn_sock *s);
int rn_dg_take_pending(int fd, struct rn_sock *s);
ssize_t dg_send_prep(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                     int flags, const void *uaddr, socklen_t alen, struct rn_dgram_hdr *h,
                     struct iovec *iov, int check_err, int own, int *err);
int dg_host_behind(int fd, int e);
void dg_res_set(struct dg_rres *res, const struct rn_dgram_hdr *h, int msg_flags);
int dg_sync(struct rn_sock *s);
ssize_t dg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt, int flags,
                const void *uaddr, socklen_t alen, int own, uint32_t cm, int *err);
ssize_t dg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt, int flags,
                struct dg_rres *res, int own, int *err);
void dg_trace(const char *call, int fd, long count, int flags, long r, int err);
ssize_t dg_sendto(int fd, struct rn_sock *s, const void *buf, size_t n, int flags,
                  const void *addr, socklen_t alen, const char *call);
ssize_t dg_recvfrom(int fd, struct rn_sock *s, void *buf, size_t n, int flags,
                    struct sockaddr *addr, socklen_t *alen, const char *call);
ssize_t dg_sendmsg(int fd, struct rn_sock *s, const struct msghdr *msg, int flags);
ssize_t dg_recvmsg(int fd, struct rn_sock *s, struct msghdr *msg, int flags);
ssize_t dg_readv(int fd, struct rn_sock *s, const struct iovec *v, int cnt, int wr);

int alg_accept(int fd, struct rn_sock *s, struct sockaddr *addr, socklen_t *lenp, int flags,
               int *err);
ssize_t alg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt, int flags,
                 struct dg_rres *res, int *err);
ssize_t alg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt, int flags,
                 const void *uctl, size_t clen, int *err);
ssize_t alg_splice_in(int out, struct rn_sock *s, int from, off_t *off, size_t n, int more,
                      int whole);

/* ------------------------------------------------------------------------ */
/* AF_UNIX (unix.c)                                                          */

#define UNIX_PATH_OFF offsetof(struct sockaddr_un, sun_path)
int unix_hint(int fd);
int unix_type(int fd);
int unix_is_dgram(int fd);
int unix_listener_send(int fd, size_t n, int flags, int named);
int unix_bind(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len, int *err);
int unix_connect(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len, int *err);
int unix_dgram_connect(int fd, const struct rn_sock *s, const unsigned char *sa, socklen_t len,
                       int *err);
int unix_dgram_peername(int fd, unsigned char *ka, size_t *klen);
ssize_t unix_dgram_sendmsg(int fd, const struct rn_sock *s, const struct msghdr *m, int flags);
void unix_fix_name(void *uaddr, socklen_t *ulen, socklen_t ucap);
int unix_install(int fd, struct rn_sock *s, int nfd, uint32_t id);
int unix_socketpair(int domain, int type, int protocol, int *sv);

/* ------------------------------------------------------------------------ */
/* The rest: epint.c, gone.c, exec.c, landlock.c, uring.c                    */

void rn_epint_carry(int fd);
void rn_epint_forget(int fd);
void rn_epint_note(int epfd, int op, int fd, const struct epoll_event *ev);
int rn_epint_tracked(int fd);
int rn_epint_find(int epfd, uint64_t data, int from);
void rn_poll_gone(struct pollfd *fds, nfds_t n, int r);
void rn_epoll_gone(int epfd, struct epoll_event *evs, int r);
void rn_exec_init(void);
int rn_ll_maybe(void);
int rn_ll_tcp(const unsigned char *sa, socklen_t len, int is_connect);
/* the seccomp supervisor's hook: a check made in another thread (landlock.c) */
enum { RN_LL_OP_TCP = 1, RN_LL_OP_ABSTRACT, RN_LL_OP_WITNESS };
typedef int (*rn_ll_hook_fn)(int op, const void *sa, unsigned len, int arg);
int rn_ll_abstract(int type, const unsigned char *sa, socklen_t len);
void rn_ll_witness(int fd, const unsigned char *sa, socklen_t len);
void rn_ll_unwitness(int fd);
void rn_ll_init(void);
void rn_ll_ruleset(long fd, const void *attr, size_t size, unsigned long flags);
void rn_ll_restricted(int fd);
long rn_uring_refused(void);

#pragma GCC visibility pop

/* ------------------------------------------------------------------------ */
/* Exported interposers: the socket and data calls (interpose.c), then those of  */
/* other units that one unit calls in another.                               */

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
RN_EXPORT int rn_fcntl(int, int, ...) __asm__("fcntl");                   /* trace.c */
RN_EXPORT int rn_recvmmsg(int, struct mmsghdr *, unsigned int, int, struct timespec *)
    __asm__("recvmmsg");                                                  /* dgmsg.c */
RN_EXPORT int rn_sendmmsg(int, struct mmsghdr *, unsigned int, int) __asm__("sendmmsg");
RN_EXPORT int rn_dup(int) __asm__("dup");
RN_EXPORT int rn_dup2(int, int) __asm__("dup2");
RN_EXPORT int rn_dup3(int, int, int) __asm__("dup3");
struct ifaddrs;
RN_EXPORT int rn_getifaddrs(struct ifaddrs **) __asm__("getifaddrs");    /* ifreq.c */

#endif
