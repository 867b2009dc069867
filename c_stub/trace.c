/* trace.c - tracing of the calls a program makes on shim fds that the stub otherwise
 * leaves to the kernel: poll, ppoll, select, pselect, epoll_ctl, epoll_wait,
 * epoll_pwait, fcntl, sendfile, splice (dup/dup2/dup3 and close are traced where they
 * are interposed).  Each interposer goes straight to
 * the real call unless ROCKETNET_TRACE is on, and then writes a line only when a shim
 * fd is involved: the kernel does the work either way.  The rn_tr_* line makers are
 * also the seccomp supervisor's (shim/seccomp_ptrace.py), which passes copies of the
 * program's memory taken before and after the kernel ran the call. */
#include "internal.h"

void *g_real_fcntl, *g_real_poll, *g_real_ppoll, *g_real_select, *g_real_pselect, *g_real_epoll_ctl,
    *g_real_epoll_wait, *g_real_epoll_pwait, *g_real_sendfile, *g_real_splice;

typedef int (*f_fcntl_t)(int, int, ...);
typedef int (*f_poll_t)(struct pollfd *, nfds_t, int);
typedef int (*f_ppoll_t)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
typedef int (*f_select_t)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
typedef int (*f_pselect_t)(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
                           const sigset_t *);
typedef int (*f_epoll_wait_t)(int, struct epoll_event *, int, int);
typedef int (*f_epoll_pwait_t)(int, struct epoll_event *, int, int, const sigset_t *);
typedef ssize_t (*f_sendfile_t)(int, int, off_t *, size_t);
typedef ssize_t (*f_splice_t)(int, loff_t *, int, loff_t *, size_t, unsigned int);

/* epoll fds that watch a shim fd (set by a traced epoll_ctl): their waits are traced */
static unsigned char g_ep_shim[RN_CACHE_N / 8];

static const struct nm nm_poll[] = {
    NM(POLLIN), NM(POLLPRI), NM(POLLOUT), NM(POLLERR), NM(POLLHUP), NM(POLLNVAL),
    NM(POLLRDNORM), NM(POLLRDBAND), NM(POLLWRNORM), NM(POLLWRBAND), NM(POLLRDHUP),
};
static const struct nm nm_epoll[] = {
    NM(EPOLLIN), NM(EPOLLPRI), NM(EPOLLOUT), NM(EPOLLERR), NM(EPOLLHUP), NM(EPOLLRDNORM),
    NM(EPOLLRDBAND), NM(EPOLLWRNORM), NM(EPOLLWRBAND), NM(EPOLLMSG), NM(EPOLLRDHUP),
    NM(EPOLLEXCLUSIVE), NM(EPOLLWAKEUP), NM(EPOLLONESHOT), NM(EPOLLET),
};
static const struct nm nm_epoll_op[] = {NM(EPOLL_CTL_ADD), NM(EPOLL_CTL_DEL), NM(EPOLL_CTL_MOD)};
static const struct nm nm_fcntl[] = {
    NM(F_DUPFD), NM(F_GETFD), NM(F_SETFD), NM(F_GETFL), NM(F_SETFL), NM(F_GETLK), NM(F_SETLK),
    NM(F_SETLKW), NM(F_SETOWN), NM(F_GETOWN), NM(F_SETSIG), NM(F_GETSIG), NM(F_DUPFD_CLOEXEC),
    NM(F_SETPIPE_SZ), NM(F_GETPIPE_SZ),
};
static const struct nm nm_oflags[] = {
    NM(O_WRONLY), NM(O_RDWR), NM(O_APPEND), NM(O_NONBLOCK), NM(O_ASYNC), NM(O_DIRECT),
    NM(O_NOATIME), NM(O_LARGEFILE),
};
static const struct nm nm_splice[] = {
    NM(SPLICE_F_MOVE), NM(SPLICE_F_NONBLOCK), NM(SPLICE_F_MORE), NM(SPLICE_F_GIFT),
};

static int rn_is_shim(int fd)
{
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    errno = saved;
    return c > 0;
}

int rn_libc_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    int v = va_arg(ap, int);
    va_end(ap);
    return ((f_fcntl_t)rn_sym(&g_real_fcntl, "fcntl"))(fd, cmd, v);
}

int rn_libc_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    return ((f_poll_t)rn_sym(&g_real_poll, "poll"))(fds, n, timeout);
}

/* what a call gave back, after " = r" on the same line */
static void tb_after(struct tb *t)
{
    if (t->n && t->b[t->n - 1] == '\n')
        t->n--;
    tb_add(t, " ");
}

/* poll sets: events in, revents out (what came back, for the entries with any) */
static void tb_pollfds(struct tb *t, const struct pollfd *fds, nfds_t n, int revents)
{
    tb_add(t, "[");
    int first = 1;
    for (nfds_t i = 0; i < n && i < 16; i++) {
        if (revents && fds[i].revents == 0)
            continue;
        tb_add(t, "%s{fd=%d, %s=", first ? "" : ", ", fds[i].fd, revents ? "revents" : "events");
        tb_flags(t, nm_poll, NMLEN(nm_poll), (unsigned short)(revents ? fds[i].revents
                                                                         : fds[i].events));
        tb_add(t, "}");
        first = 0;
    }
    tb_add(t, n > 16 ? ", ...]" : "]");
}

static int rn_any_shim_poll(const struct pollfd *fds, nfds_t n)
{
    struct pollfd p;
    for (nfds_t i = 0; i < n; i++) {
        if (rn_copy_in(&p, fds + i, sizeof p) < 0)
            return 0;
        if (rn_is_shim(p.fd))
            return 1;
    }
    return 0;
}

RN_EXPORT void rn_tr_poll(const char *call, const struct pollfd *fds, nfds_t n, const char *tmo,
                          int r, int err);
void rn_tr_poll(const char *call, const struct pollfd *fds, nfds_t n, const char *tmo, int r,
                int err)
{
    struct tb t;
    tb_start(&t, call, INT_MIN);
    tb_pollfds(&t, fds, n, 0);
    tb_add(&t, ", %lu, %s)", (unsigned long)n, tmo);
    tb_ret(&t, r, err);
    if (r > 0) {
        tb_after(&t);
        tb_pollfds(&t, fds, n, 1);
    }
    tb_emit(&t);
}

RN_EXPORT int rn_poll(struct pollfd *, nfds_t, int) __asm__("poll");
RN_EXPORT int rn_ppoll(struct pollfd *, nfds_t, const struct timespec *,
                       const sigset_t *) __asm__("ppoll");
RN_EXPORT int rn_select(int, fd_set *, fd_set *, fd_set *, struct timeval *) __asm__("select");
RN_EXPORT int rn_pselect(int, fd_set *, fd_set *, fd_set *, const struct timespec *,
                         const sigset_t *) __asm__("pselect");
RN_EXPORT int rn_epoll_ctl(int, int, int, struct epoll_event *) __asm__("epoll_ctl");
RN_EXPORT int rn_epoll_wait(int, struct epoll_event *, int, int) __asm__("epoll_wait");
RN_EXPORT int rn_epoll_pwait(int, struct epoll_event *, int, int,
                             const sigset_t *) __asm__("epoll_pwait");
RN_EXPORT ssize_t rn_sendfile(int, int, off_t *, size_t) __asm__("sendfile");
RN_EXPORT ssize_t rn_sendfile64(int, int, off_t *, size_t) __asm__("sendfile64");
RN_EXPORT ssize_t rn_splice(int, loff_t *, int, loff_t *, size_t, unsigned int) __asm__("splice");
RN_EXPORT int rn_fcntl64(int, int, ...) __asm__("fcntl64");

int rn_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    f_poll_t real = (f_poll_t)rn_sym(&g_real_poll, "poll");
    int traced = g_trace_on && rn_any_shim_poll(fds, n);
    int r = real(fds, n, timeout), err = errno;
    rn_poll_gone(fds, n, r);
    if (!traced) {
        errno = err;
        return r;
    }
    char tmo[16];
    snprintf(tmo, sizeof tmo, "%d", timeout);
    rn_tr_poll("poll", fds, n, tmo, r, err);
    errno = err;
    return r;
}

int rn_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
    f_ppoll_t real = (f_ppoll_t)rn_sym(&g_real_ppoll, "ppoll");
    int traced = g_trace_on && rn_any_shim_poll(fds, n);
    int r = real(fds, n, ts, mask), err = errno;
    rn_poll_gone(fds, n, r);
    if (!traced) {
        errno = err;
        return r;
    }
    struct timespec k;
    char tmo[48] = "NULL";
    if (ts && rn_copy_in(&k, ts, sizeof k) == 0)
        snprintf(tmo, sizeof tmo, "{%lld, %ld}", (long long)k.tv_sec, (long)k.tv_nsec);
    rn_tr_poll("ppoll", fds, n, tmo, r, err);
    errno = err;
    return r;
}

/* fd sets as lists of numbers; NULL for no set */
static void tb_fdset(struct tb *t, const fd_set *s, int nfds)
{
    if (!s) {
        tb_add(t, "NULL");
        return;
    }
    tb_add(t, "[");
    int first = 1;
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++) {
        if (FD_ISSET(fd, s)) {
            tb_add(t, first ? "%d" : " %d", fd);
            first = 0;
        }
    }
    tb_add(t, "]");
}

static int rn_any_shim_sets(int nfds, fd_set **sets, fd_set *copies)
{
    int any = 0;
    for (int k = 0; k < 3; k++) {
        if (sets[k] && rn_copy_in(&copies[k], sets[k], sizeof copies[k]) < 0)
            return 0;
    }
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE && !any; fd++) {
        for (int k = 0; k < 3; k++) {
            if (sets[k] && FD_ISSET(fd, &copies[k]) && rn_is_shim(fd)) {
                any = 1;
                break;
            }
        }
    }
    return any;
}

/* sets: the program's (read again for what came back), NULL where it passed none */
RN_EXPORT void rn_tr_select(const char *call, int nfds, fd_set **sets, fd_set *before,
                            const char *tmo, int r, int err);
void rn_tr_select(const char *call, int nfds, fd_set **sets, fd_set *before, const char *tmo,
                  int r, int err)
{
    struct tb t;
    tb_start(&t, call, INT_MIN);
    tb_add(&t, "%d", nfds);
    for (int k = 0; k < 3; k++) {
        tb_add(&t, ", ");
        tb_fdset(&t, sets[k] ? &before[k] : NULL, nfds);
    }
    tb_add(&t, ", %s)", tmo);
    tb_ret(&t, r, err);
    if (r > 0) {
        tb_after(&t);
        tb_add(&t, "(");
        for (int k = 0; k < 3; k++) {
            fd_set after;
            if (k)
                tb_add(&t, ", ");
            if (sets[k] && rn_copy_in(&after, sets[k], sizeof after) == 0)
                tb_fdset(&t, &after, nfds);
            else
                tb_add(&t, "NULL");
        }
        tb_add(&t, ")");
    }
    tb_emit(&t);
}

int rn_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv)
{
    f_select_t real = (f_select_t)rn_sym(&g_real_select, "select");
    fd_set *sets[3] = {rd, wr, ex}, before[3];
    if (!g_trace_on || !rn_any_shim_sets(nfds, sets, before))
        return real(nfds, rd, wr, ex, tv);
    struct timeval k;
    char tmo[48] = "NULL";
    if (tv && rn_copy_in(&k, tv, sizeof k) == 0)
        snprintf(tmo, sizeof tmo, "{%lld, %ld}", (long long)k.tv_sec, (long)k.tv_usec);
    int r = real(nfds, rd, wr, ex, tv), err = errno;
    rn_tr_select("select", nfds, sets, before, tmo, r, err);
    errno = err;
    return r;
}

int rn_pselect(int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts,
               const sigset_t *mask)
{
    f_pselect_t real = (f_pselect_t)rn_sym(&g_real_pselect, "pselect");
    fd_set *sets[3] = {rd, wr, ex}, before[3];
    if (!g_trace_on || !rn_any_shim_sets(nfds, sets, before))
        return real(nfds, rd, wr, ex, ts, mask);
    struct timespec k;
    char tmo[48] = "NULL";
    if (ts && rn_copy_in(&k, ts, sizeof k) == 0)
        snprintf(tmo, sizeof tmo, "{%lld, %ld}", (long long)k.tv_sec, (long)k.tv_nsec);
    int r = real(nfds, rd, wr, ex, ts, mask), err = errno;
    rn_tr_select("pselect", nfds, sets, before, tmo, r, err);
    errno = err;
    return r;
}

RN_EXPORT void rn_tr_epoll_ctl(int epfd, int op, int fd, const struct epoll_event *ev, int r,
                               int err);
void rn_tr_epoll_ctl(int epfd, int op, int fd, const struct epoll_event *ev, int r, int err)
{
    struct tb t;
    struct epoll_event k;
    tb_start(&t, "epoll_ctl", epfd);
    tb_add(&t, ", ");
    tb_sym(&t, nm_epoll_op, NMLEN(nm_epoll_op), op);
    tb_add(&t, ", %d, ", fd);
    if (!ev)
        tb_add(&t, "NULL");
    else if (rn_copy_in(&k, ev, sizeof k) < 0)
        tb_ptr(&t, ev);
    else {
        tb_add(&t, "{");
        tb_flags(&t, nm_epoll, NMLEN(nm_epoll), k.events);
        tb_add(&t, ", data=%#llx}", (unsigned long long)k.data.u64);
    }
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    tb_emit(&t);
}

int rn_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    f_epoll_ctl_t real = (f_epoll_ctl_t)rn_sym(&g_real_epoll_ctl, "epoll_ctl");
    int r = real(epfd, op, fd, ev), err = errno;
    if (r == 0)
        rn_epint_note(epfd, op, fd, ev); /* epint.c */
    errno = err;
    if (!g_trace_on || !rn_is_shim(fd))
        return r;
    if (r == 0 && epfd >= 0 && epfd < RN_CACHE_N)
        __atomic_fetch_or(&g_ep_shim[epfd / 8], (unsigned char)(1u << (epfd % 8)),
                          __ATOMIC_RELAXED);
    rn_tr_epoll_ctl(epfd, op, fd, ev, r, err);
    errno = err;
    return r;
}

RN_EXPORT void rn_tr_epoll_wait(const char *call, int epfd, const struct epoll_event *evs,
                                int max, int timeout, int r, int err);
void rn_tr_epoll_wait(const char *call, int epfd, const struct epoll_event *evs, int max,
                      int timeout, int r, int err)
{
    struct tb t;
    tb_start(&t, call, epfd);
    tb_add(&t, ", %d, %d)", max, timeout);
    tb_ret(&t, r, err);
    if (r > 0) {
        tb_after(&t);
        tb_add(&t, "[");
        for (int i = 0; i < r && i < 8; i++) {
            struct epoll_event k;
            if (rn_copy_in(&k, evs + i, sizeof k) < 0)
                break;
            tb_add(&t, "%s{", i ? ", " : "");
            tb_flags(&t, nm_epoll, NMLEN(nm_epoll), k.events);
            tb_add(&t, ", data=%#llx}", (unsigned long long)k.data.u64);
        }
        tb_add(&t, r > 8 ? ", ...]" : "]");
    }
    tb_emit(&t);
}

static int rn_ep_traced(int epfd)
{
    return g_trace_on && epfd >= 0 && epfd < RN_CACHE_N &&
           (__atomic_load_n(&g_ep_shim[epfd / 8], __ATOMIC_RELAXED) & (1u << (epfd % 8)));
}

int rn_epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
{
    f_epoll_wait_t real = (f_epoll_wait_t)rn_sym(&g_real_epoll_wait, "epoll_wait");
    int r = real(epfd, evs, max, timeout), err = errno;
    rn_epoll_gone(epfd, evs, r);
    if (rn_ep_traced(epfd))
        rn_tr_epoll_wait("epoll_wait", epfd, evs, max, timeout, r, err);
    errno = err;
    return r;
}

int rn_epoll_pwait(int epfd, struct epoll_event *evs, int max, int timeout,
                   const sigset_t *mask)
{
    f_epoll_pwait_t real = (f_epoll_pwait_t)rn_sym(&g_real_epoll_pwait, "epoll_pwait");
    int r = real(epfd, evs, max, timeout, mask), err = errno;
    rn_epoll_gone(epfd, evs, r);
    if (rn_ep_traced(epfd))
        rn_tr_epoll_wait("epoll_pwait", epfd, evs, max, timeout, r, err);
    errno = err;
    return r;
}

/* 1 if fd is an AF_ALG shim socket (s filled): its input is the stub's (alg.c) */
static int rn_is_alg(int fd, struct rn_sock *s)
{
    return rn_dg_hint(fd) && dg_confirm(fd, s) > 0 && INFO_KIND(s->info) == RN_KIND_ALG;
}

/* off: whether the program passed an offset; k: its value before the call (NULL: unreadable) */
RN_EXPORT void rn_tr_sendfile(const char *name, int out, int in, int off, const off_t *k,
                              size_t n, long r, int err);
void rn_tr_sendfile(const char *name, int out, int in, int off, const off_t *k, size_t n, long r,
                    int err)
{
    struct tb t;
    tb_start(&t, name, out);
    if (k)
        tb_add(&t, ", %d, [%lld], %zu)", in, (long long)*k, n);
    else
        tb_add(&t, ", %d, %s, %zu)", in, off ? "?" : "NULL", n);
    tb_ret(&t, r, err);
    tb_emit(&t);
}

static ssize_t rn_sendfile_any(const char *name, int out, int in, off_t *off, size_t n)
{
    f_sendfile_t real = (f_sendfile_t)rn_sym(&g_real_sendfile, "sendfile");
    struct rn_sock as;
    if (RN_UNLIKELY(rn_is_alg(out, &as)))
        return alg_splice_in(out, &as, in, off, n, 0, 1);
    if (!g_trace_on || !(rn_is_shim(out) || rn_is_shim(in)))
        return real(out, in, off, n);
    off_t k = 0;
    int have = off && rn_copy_in(&k, off, sizeof k) == 0;
    ssize_t r = real(out, in, off, n);
    int err = errno;
    rn_tr_sendfile(name, out, in, off != NULL, have ? &k : NULL, n, (long)r, err);
    errno = err;
    return r;
}

ssize_t rn_sendfile(int out, int in, off_t *off, size_t n)
{
    return rn_sendfile_any("sendfile", out, in, off, n);
}

ssize_t rn_sendfile64(int out, int in, off_t *off, size_t n)
{
    return rn_sendfile_any("sendfile64", out, in, off, n);
}

/* oin, oout: whether the program passed those offsets */
RN_EXPORT void rn_tr_splice(int in, int oin, int out, int oout, size_t n, unsigned int flags,
                            long r, int err);
void rn_tr_splice(int in, int oin, int out, int oout, size_t n, unsigned int flags, long r,
                  int err)
{
    struct tb t;
    tb_start(&t, "splice", in);
    tb_add(&t, ", %s, %d, %s, %zu, ", oin ? "[off]" : "NULL", out, oout ? "[off]" : "NULL", n);
    tb_flags(&t, nm_splice, NMLEN(nm_splice), flags);
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    tb_emit(&t);
}

ssize_t rn_splice(int in, loff_t *oin, int out, loff_t *oout, size_t n, unsigned int flags)
{
    f_splice_t real = (f_splice_t)rn_sym(&g_real_splice, "splice");
    struct rn_sock as;
    struct stat st;
    if (RN_UNLIKELY(oin == NULL && oout == NULL && rn_is_alg(out, &as)) && fstat(in, &st) == 0 &&
        S_ISFIFO(st.st_mode)) {
        struct pollfd p = {in, POLLIN, 0};
        if ((flags & SPLICE_F_NONBLOCK) && poll(&p, 1, 0) == 0) {
            errno = EAGAIN;
            return -1;
        }
        return alg_splice_in(out, &as, in, NULL, n, (flags & SPLICE_F_MORE) != 0, 0);
    }
    if (!g_trace_on || !(rn_is_shim(in) || rn_is_shim(out)))
        return real(in, oin, out, oout, n, flags);
    ssize_t r = real(in, oin, out, oout, n, flags);
    int err = errno;
    rn_tr_splice(in, oin != NULL, out, oout != NULL, n, flags, (long)r, err);
    errno = err;
    return r;
}

/* fcntl: every command passes one word or none; glibc reads it as a pointer too */
RN_EXPORT void rn_tr_fcntl(const char *name, int fd, int cmd, uintptr_t arg, int r, int err);
void rn_tr_fcntl(const char *name, int fd, int cmd, uintptr_t arg, int r, int err)
{
    struct tb t;
    tb_start(&t, name, fd);
    tb_add(&t, ", ");
    tb_sym(&t, nm_fcntl, NMLEN(nm_fcntl), cmd);
    if (cmd == F_SETFL) {
        tb_add(&t, ", ");
        tb_flags(&t, nm_oflags, NMLEN(nm_oflags), (unsigned)arg);
    } else if (cmd == F_SETFD) {
        tb_add(&t, ", %s", (arg & FD_CLOEXEC) ? "FD_CLOEXEC" : "0");
    } else if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC || cmd == F_SETOWN ||
               cmd == F_SETSIG) {
        tb_add(&t, ", %d", (int)arg);
    }
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    if (r >= 0 && cmd == F_GETFL) {
        tb_after(&t);
        tb_add(&t, "(");
        tb_flags(&t, nm_oflags, NMLEN(nm_oflags), (unsigned)r & ~(unsigned)O_ACCMODE);
        tb_add(&t, ")");
    }
    tb_emit(&t);
}

static int rn_fcntl_any(const char *name, int fd, int cmd, void *arg)
{
    int r = ((f_fcntl_t)rn_sym(&g_real_fcntl, "fcntl"))(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
        rn_dg_dup_cache(fd, r); /* the new number is the same socket */
    if (!g_trace_on || !rn_is_shim(fd))
        return r;
    int err = errno;
    rn_tr_fcntl(name, fd, cmd, (uintptr_t)arg, r, err);
    errno = err;
    return r;
}

int rn_fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return rn_fcntl_any("fcntl", fd, cmd, arg);
}

int rn_fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return rn_fcntl_any("fcntl64", fd, cmd, arg);
}
