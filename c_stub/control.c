/* control.c - the control calls on a shim socket: socket, bind, connect, listen,
 * shutdown, getsockname/getpeername, getsockopt/setsockopt, accept.  Each is an RPC to
 * the host (AF_UNIX, datagram and AF_ALG sockets branch to their units). */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* socket                                                                    */

int do_socket(int domain, int type, int protocol)
{
    /* AF_NETLINK: the host serves NETLINK_ROUTE (0) and NETLINK_SOCK_DIAG (4, ss); other
     * netlink families stay the kernel's */
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!g_enabled || (domain != AF_INET && domain != AF_INET6 && domain != AF_ALG &&
                       !(domain == AF_NETLINK && (protocol == 0 || protocol == 4)) &&
                       !(domain == AF_UNIX && (base == SOCK_STREAM || base == SOCK_SEQPACKET ||
                                               base == SOCK_DGRAM))))
        return rn_fd_fresh(REAL(socket)(domain, type, protocol));
    int saved = errno, err = 0, r;
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct rn_resp resp;
    int fd = -1;
    if (rn_rpc(RN_OP_SOCKET, 0, domain, base, protocol, 0,
               NULL, 0, &resp, NULL, 0, &fd, flags & SOCK_CLOEXEC) < 0)
        ERRET(errno);
    if (resp.ret < 0 && resp.err == RN_ERR_PASSTHROUGH) {
        errno = saved;
        r = rn_fd_fresh(REAL(socket)(domain, type, protocol));
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
    /* A's inode from the reply saves an fstat; a wrong one only costs a slow classify */
    uint64_t ino = resp.arg[1] > 0 ? (uint64_t)resp.arg[1]
                   : fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
    if (ino != 0)
        rn_cache_set(fd, ino,
                     rn_mkinfo(ST_SHIM, (uint32_t)resp.ret, (int)resp.arg[0],
                               resp.arg[0] == RN_KIND_STREAM ? F_UNCONN | F_FRESH : 0));
    r = fd;
out:
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "socket", INT_MIN);
        tb_family(&t, domain);
        tb_add(&t, ", ");
        tb_stype(&t, type);
        tb_add(&t, ", %d)", protocol);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

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
        tb_ptr(&t, uptr);
    tb_add(&t, ", %ld)", len);
    tb_ret(&t, r, err);
    tb_emit(&t);
}

/* Whether a bind or connect on s sends the program's address to the host unread
 * (RN_RPC_USER): a TCP socket, when nothing in the stub looks at the address (no
 * trace line, no Landlock domain to ask). */
static int rn_addr_direct(const struct rn_sock *s)
{
    return INFO_KIND(s->info) == RN_KIND_STREAM && !g_trace_on && !rn_ll_maybe();
}

int do_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    RN_SHIM_OR_PASS(fd, s, REAL(bind)(fd, addr, len));
    if ((int)len < 0 || len > sizeof sa)
        ERRET(EINVAL);
    int direct = rn_addr_direct(&s);
    if (!direct) {
        if (rn_copy_in(sa, addr, len) < 0)
            ERRET(EFAULT);
        copied = 1;
    }
    if (INFO_KIND(s.info) == RN_KIND_UNIX) {
        r = unix_bind(fd, &s, sa, len, &err);
        goto out;
    }
    if (!direct && INFO_KIND(s.info) == RN_KIND_STREAM && (err = rn_ll_tcp(sa, len, 0)) != 0) {
        r = -1; /* Landlock (landlock.c) */
        goto out;
    }
    struct rn_resp resp;
    if (rn_sock_rpc(fd, &s, RN_OP_BIND, 0, 0, 0, 0, direct ? (const void *)addr : sa, len, &resp,
                    NULL, 0, NULL, direct ? RN_RPC_USER : 0) < 0)
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

int rn_sock_error(int fd, const struct rn_sock *s, int *val)
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

int do_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    RN_SHIM_OR_PASS(fd, s, REAL(connect)(fd, addr, len));
    if ((int)len < 0 || len > sizeof sa)
        ERRET(EINVAL);
    int direct = rn_addr_direct(&s);
    if (!direct) {
        if (rn_copy_in(sa, addr, len) < 0)
            ERRET(EFAULT);
        copied = 1;
    }
    if (INFO_KIND(s.info) == RN_KIND_UNIX) {
        r = unix_is_dgram(fd) ? unix_dgram_connect(fd, &s, sa, len, &err)
                              : unix_connect(fd, &s, sa, len, &err);
        goto out;
    }
    if (!direct && INFO_KIND(s.info) == RN_KIND_STREAM && (err = rn_ll_tcp(sa, len, 1)) != 0) {
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
        uint64_t filler = 0, was = s.info & (F_CONNECTING | F_FRESH);
        if (!(s.info & F_CONNECTING) && INFO_KIND(s.info) == RN_KIND_STREAM) {
            if (!unfilled && direct) { /* a filler goes only with an address the host reads */
                if (rn_copy_in(sa, addr, len) < 0)
                    ERRET(EFAULT);
                direct = 0;
                copied = 1;
            }
            if (!unfilled)
                filler = rn_fill(fd);
            rn_cache_flags(fd, &s, F_CONNECTING, F_FRESH);
            s.info = (s.info | F_CONNECTING) & ~F_FRESH;
        }
        int nfd = -1;
        uint64_t ino = 0;
        if (rn_rpc(RN_OP_CONNECT, INFO_ID(s.info), (int64_t)filler, nb, unfilled, 0,
                   direct ? (const void *)addr : sa, len, &resp, &ino, sizeof ino, &nfd,
                   direct ? 1 | RN_RPC_USER : 1) < 0) {
            if (errno == EFAULT && direct) { /* nothing reached the host: as before */
                rn_cache_flags(fd, &s, was, (F_CONNECTING | F_FRESH) & ~was);
                s.info = (s.info & ~(F_CONNECTING | F_FRESH)) | was;
            }
            ERRET(errno);
        }
        if (nfd >= 0) { /* the fresh A, with the connect's outcome */
            if (resp.payload_len != sizeof ino)
                ino = 0;
            /* fl: read before the call, as the kernel's connect reads it once */
            if (rn_install(fd, &s, nfd, (uint32_t)resp.arg[1], (int)resp.arg[0], fl, ino) < 0)
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

int do_listen(int fd, int backlog)
{
    int saved = errno, err = 0, r;
    struct rn_sock s;
    RN_SHIM_OR_PASS(fd, s, REAL(listen)(fd, backlog));
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

int do_shutdown(int fd, int how)
{
    int saved = errno, err = 0, r;
    struct rn_sock s;
    RN_SHIM_OR_PASS(fd, s, REAL(shutdown)(fd, how));
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
int rn_put_addr(struct sockaddr *uaddr, socklen_t *ulen, const void *ka, size_t klen,
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

int do_getname(int op, int fd, struct sockaddr *addr, socklen_t *lenp)
{
    int peer = op == RN_OP_GETPEERNAME;
    int saved = errno, err = 0, r, shown = -1;
    struct rn_sock s;
    unsigned char ka[RN_MAX_PAYLOAD];
    size_t klen = 0;
    RN_SHIM_OR_PASS(fd, s, peer ? REAL(getpeername)(fd, addr, lenp)
                                : REAL(getsockname)(fd, addr, lenp));
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
            tb_ptr(&t, (void *)addr);
        if (shown >= 0)
            tb_add(&t, ", [%d])", shown);
        else {
            tb_add(&t, ", ");
            tb_ptr(&t, (void *)lenp);
            tb_add(&t, ")");
        }
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

/* A's own timeouts, asked for in the form every 64-bit kernel and emulator knows: on
 * LP64 the _NEW options' __kernel_sock_timeval is struct timeval, and Linux reads only
 * sizeof(struct timeval) of a longer optlen; qemu-user 7.2 knows only the old names
 * and takes no other length.  The same answers natively, and Linux's in a guest. */
static int rn_timeo_old(int opt)
{
    if (sizeof(long) != 8)
        return opt;
    return opt == 66 ? 20 : opt == 67 ? 21 : opt;
}

static int rn_set_timeo(int fd, int opt, const void *val, socklen_t len)
{
    if (sizeof(long) == 8 && len > sizeof(struct timeval))
        len = sizeof(struct timeval);
    return REAL(setsockopt)(fd, SOL_SOCKET, rn_timeo_old(opt), val, len);
}

/* The kept options (defer.c) that are also set on A: socket-level options every socket
 * has, which the kernel checks and stores for an AF_UNIX A as for a TCP socket. */
static int rn_opt_on_a(int level, int opt)
{
    return g_keep_opts != 0 && level == SOL_SOCKET &&
           (opt == SO_SNDBUF || opt == SO_RCVBUF || opt == SO_REUSEADDR || opt == SO_KEEPALIVE);
}

/* The cached info of fd if an option call on it can be made on A without classifying
 * it (no fstat): a TCP socket made here that never connected, the option one of
 * rn_opt_on_a, no trace line to write.  Made on A, the call answers as Linux does for
 * whatever fd is there, even one the cache no longer knows; else 0. */
static uint64_t rn_fresh_opt(int fd, int level, int opt)
{
    if (!g_enabled || g_trace_on || g_acting_pid != 0 || fd < 0 || fd >= RN_CACHE_N ||
        !rn_opt_on_a(level, opt))
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
    return INFO_STATE(i) == ST_SHIM && INFO_KIND(i) == RN_KIND_STREAM && (i & F_FRESH) ? i : 0;
}

/* Keep setsockopt(level, opt, v) of socket id for its next call (defer.c): 1 if kept. */
static int rn_keep(uint32_t id, int level, int opt, int32_t v)
{
    int kept = 0;
    if (rn_lock() == 0) {
        /* the limits are those of this process's connection, which made the socket */
        kept = g_ctl_fd >= 0 && g_ctl_pid == rn_getpid() && rn_defer_keep(id, level, opt, v);
        rn_unlock();
    }
    return kept;
}

/* Whether getsockopt(SOL_SOCKET, opt) of socket id reads A: a SO_SNDBUF / SO_RCVBUF
 * set and kept here, which A holds as Linux would read it back. */
static int rn_kept_buf(uint32_t id, int level, int opt)
{
    int kept = 0;
    if (level == SOL_SOCKET && (opt == SO_SNDBUF || opt == SO_RCVBUF) && rn_lock() == 0) {
        kept = rn_defer_readback(id, opt);
        rn_unlock();
    }
    return kept;
}

int do_getsockopt(int fd, int level, int opt, void *val, socklen_t *lenp)
{
    int saved = errno, err = 0, r, ulen = -1, outlen = -1;
    struct rn_sock s;
    unsigned char kv[RN_MAX_PAYLOAD];
    uint64_t fi = rn_fresh_opt(fd, level, opt);
    if (fi != 0 && rn_kept_buf(INFO_ID(fi), level, opt))
        return REAL(getsockopt)(fd, level, opt, val, lenp);
    RN_SHIM_OR_PASS(fd, s, REAL(getsockopt)(fd, level, opt, val, lenp));
    int snd;
    if (INFO_KIND(s.info) == RN_KIND_STREAM && rn_is_timeo(level, opt, &snd)) {
        /* a TCP socket's timeouts are A's own: they are what ends a blocking call */
        r = REAL(getsockopt)(fd, level, rn_timeo_old(opt), val, lenp);
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
    if ((s.info & F_FRESH) && rn_kept_buf(INFO_ID(s.info), level, opt)) {
        socklen_t kl = sizeof(int32_t); /* set here and kept (defer.c): A holds it */
        if (REAL(getsockopt)(fd, level, opt, kv, &kl) < 0)
            ERRET(errno);
        resp.payload_len = kl;
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
            tb_ptr(&t, val);
            tb_add(&t, ", ");
            tb_ptr(&t, (void *)lenp);
            tb_add(&t, ")");
        }
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

int do_setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
    int saved = errno, err = 0, r, copied = 0;
    struct rn_sock s;
    unsigned char kv[RN_MAX_PAYLOAD];
    size_t n = 0;
    uint64_t fi = rn_fresh_opt(fd, level, opt);
    if (fi != 0) {
        if (REAL(setsockopt)(fd, level, opt, val, len) < 0)
            return -1; /* the kernel's EFAULT, EINVAL (optlen), EBADF, ENOTSOCK */
        int32_t v;
        memcpy(&v, val, sizeof v); /* the kernel has just read these bytes */
        if (rn_keep(INFO_ID(fi), level, opt, v)) {
            errno = saved;
            return 0;
        }
    }
    RN_SHIM_OR_PASS(fd, s, REAL(setsockopt)(fd, level, opt, val, len));
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
        r = rn_set_timeo(fd, opt, val, len);
        err = errno;
        goto out;
    }
    if ((s.info & F_FRESH) && n >= sizeof(int) && g_acting_pid == 0) {
        int32_t v;
        memcpy(&v, kv, sizeof v);
        if (rn_opt_on_a(level, opt) && REAL(setsockopt)(fd, level, opt, kv, (socklen_t)n) < 0)
            ERRET(errno);
        if (rn_keep(INFO_ID(s.info), level, opt, v)) {
            r = 0; /* sent with the socket's next call (defer.c); this A is shut and never
                    * carries data: the A that will is sized by the host */
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
        rn_set_timeo(fd, opt, kv, (socklen_t)n); /* native timeouts on A */
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
            tb_ptr(&t, val);
        tb_add(&t, ", %d)", (int)len);
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* accept                                                                    */

int do_accept(int fd, struct sockaddr *addr, socklen_t *lenp, int flags, int is4)
{
    int saved = errno, err = 0, r, shown = -1, nfd = -1;
    struct rn_sock s;
    struct rn_accept_rec rec;
    memset(&rec, 0, sizeof rec);
    RN_SHIM_OR_PASS(fd, s, rn_fd_fresh(is4 ? REAL(accept4)(fd, addr, lenp, flags)
                                           : REAL(accept)(fd, addr, lenp)));
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
            tb_ptr(&t, (void *)addr);
        if (shown >= 0)
            tb_add(&t, ", [%d]", shown);
        else if (lenp == NULL)
            tb_add(&t, ", NULL");
        else {
            tb_add(&t, ", ");
            tb_ptr(&t, (void *)lenp);
        }
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

