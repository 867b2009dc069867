/* interpose.c - the exported socket and data calls (socket, bind, ..., read, write,
 * close, syscall), each bound to libc's name with an asm label (their declarations:
 * internal.h); they hand shim fds to control.c, stream.c and dgram.c, everything else
 * to libc. */
#include "internal.h"

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
    DG_PATH(fd, ds, dg_sendto(fd, &ds, b, n, flags, NULL, 0, "send"));
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
    DG_PATH(fd, ds, dg_recvfrom(fd, &ds, b, n, 0, NULL, NULL, "read"));
    UNCONN_CHECK("read", n, 0, 0, rn_buf_bad(b, n));
    TRACED_IO("read", rn_rd_end(fd, URG_IO(fd, 0, REAL(read)(fd, b, n))), b, n, 0, 0);
}
static ssize_t rn_write_io(int fd, const void *b, size_t n)
{
    struct rn_sock ds;
    DG_PATH(fd, ds, dg_sendto(fd, &ds, b, n, 0, NULL, 0, "write"));
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
    DG_PATH(fd, ds, dg_readv(fd, &ds, v, cnt, 0));
    UNCONN_CHECK("readv", cnt, 0, 0, cnt < 0 ? EINVAL : rn_iov_bad(v, (size_t)cnt, EINVAL));
    TRACED_IO("readv", rn_rd_end(fd, URG_IO(fd, 0, REAL(readv)(fd, v, cnt))), NULL, cnt, 0, 0);
}
static ssize_t rn_writev_io(int fd, const struct iovec *v, int cnt)
{
    struct rn_sock ds;
    DG_PATH(fd, ds, dg_readv(fd, &ds, v, cnt, 1));
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

static void trace_close(int fd, int r)
{
    struct tb t;
    tb_start(&t, "close", fd);
    tb_add(&t, ")");
    tb_ret(&t, r, errno);
    tb_emit(&t);
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
            if (g_trace_on)
                trace_close(fd, r);
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
        if (c > 0)
            trace_close(fd, r);
        return r;
    }
    if (g_enabled && fd >= 0 && fd < RN_CACHE_N) {
        uint64_t i = __atomic_exchange_n(&g_cache[fd].info, 0, __ATOMIC_ACQ_REL);
        if (RN_UNLIKELY(i & F_FRESH) && INFO_STATE(i) == ST_SHIM)
            rn_defer_forget(INFO_ID(i)); /* its kept options die with it */
    }
    rn_ctl_touch(fd, fd);
    rn_ll_unwitness(fd); /* landlock.c */
    return REAL(close)(fd);
}

/* close_range and closefrom close numbers as close does: the control connection's may
 * be among them (rn_ctl_touch), and the cache forgets them (datagram calls trust it,
 * dg_confirm) once they are closed: a live datagram fd must never look unknown.  A C
 * library without them gets the system call. */
void *g_real_closefrom;
RN_EXPORT int rn_close_range(unsigned, unsigned, int) __asm__("close_range");
RN_EXPORT void rn_closefrom(int) __asm__("closefrom");
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2) /* linux/close_range.h */
#endif

static void rn_cache_closed(unsigned lo, unsigned hi)
{
    for (unsigned fd = lo; g_enabled && fd <= hi && fd < RN_CACHE_N; fd++) {
        uint64_t i = __atomic_exchange_n(&g_cache[fd].info, 0, __ATOMIC_ACQ_REL);
        if (RN_UNLIKELY(i & F_FRESH) && INFO_STATE(i) == ST_SHIM)
            rn_defer_forget(INFO_ID(i));
    }
}

int rn_close_range(unsigned lo, unsigned hi, int flags)
{
    rn_ctl_touch(lo > INT_MAX ? INT_MAX : (int)lo, hi > INT_MAX ? INT_MAX : (int)hi);
#ifdef SYS_close_range
    int r = (int)REAL(syscall)(SYS_close_range, lo, hi, flags);
    if (r == 0 && !((unsigned)flags & CLOSE_RANGE_CLOEXEC))
        rn_cache_closed(lo, hi);
    return r;
#else
    (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}
void rn_closefrom(int lo)
{
    typedef void (*f_closefrom_t)(int);
    f_closefrom_t f = (f_closefrom_t)rn_sym(&g_real_closefrom, "closefrom");
    rn_ctl_touch(lo, INT_MAX);
    if (f != NULL) {
        f(lo); /* it closes every number from lo or aborts */
        if (lo >= 0)
            rn_cache_closed((unsigned)lo, ~0U);
    } else if (lo >= 0) {
        rn_close_range((unsigned)lo, ~0U, 0);
    }
}

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
#ifdef SYS_close_range
        case SYS_close_range: return rn_close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
#endif
        case SYS_fcntl: return rn_fcntl((int)a[0], (int)a[1], a[2]);
        default: break;
        }
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

