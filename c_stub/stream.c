/* stream.c - sendto, sendmsg, recvfrom and recvmsg (datagram and AF_UNIX sockets
 * branch to their units), and what the data calls on a TCP shim socket need besides
 * A itself: MSG_MORE, MSG_OOB, MSG_FASTOPEN, MSG_ERRQUEUE, and how a read or write
 * on A ended (EOF, reset, never connected, a dead host). */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* MSG_MORE: Linux holds a TCP send with MSG_MORE back until a send without it.  The
 * host does the same (RN_OP_MORE) for what the program writes to A meanwhile.  The
 * check after a send without MSG_MORE is one load from the cache, no syscall.      */

void rn_more(int fd, int on)
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
ssize_t rn_oob_send(int fd, const void *buf, size_t n, int flags)
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

ssize_t do_sendto(int fd, const void *buf, size_t n, int flags,
                         const struct sockaddr *addr, socklen_t alen)
{
    int saved = errno, err = 0, copied = 0;
    ssize_t r;
    struct rn_sock s;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    DG_PATH(fd, s, dg_sendto(fd, &s, buf, n, flags, addr, alen, "sendto"));
    RN_SHIM_OR_PASS(fd, s, REAL(sendto)(fd, buf, n, flags, addr, alen));
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
        tb_payload(&t, buf, r);
        tb_add(&t, ", %zu, ", n);
        tb_msgflags(&t, flags);
        tb_add(&t, ", ");
        if (copied)
            tb_addr(&t, sa, alen);
        else if (addr == NULL)
            tb_add(&t, "NULL");
        else
            tb_ptr(&t, (const void *)addr);
        tb_add(&t, ", %d)", (int)alen);
        tb_ret(&t, (long)r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (!g_enabled)
        return REAL(sendmsg)(fd, msg, flags);
    rn_defer_flush(-1); /* it may pass a socket on (SCM_RIGHTS) */
    int saved = errno, err = 0, copied = 0;
    ssize_t r;
    struct rn_sock s;
    struct msghdr m;
    socklen_t namelen = 0;
    DG_PATH(fd, s, dg_sendmsg(fd, &s, msg, flags));
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
        else {
            tb_ptr(&t, (const void *)msg);
            tb_add(&t, ", ");
        }
        tb_msgflags(&t, flags);
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
int rn_errqueue(int fd)
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
ssize_t rn_rd_end_slow(int fd, ssize_t r)
{
    int e = errno;
    struct pollfd p = {fd, 0, 0};
    /* An EOF on an fd the cache calls ours: without POLLHUP it is 0 whatever the fd
     * is (below, or not ours), so the poll comes before the fstat of classifying. */
    int hinted = r == 0 && fd >= 0 && fd < RN_CACHE_N &&
                 INFO_STATE(__atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED)) == ST_SHIM;
    if (hinted && rn_libc_poll(&p, 1, 0) == 0) {
        errno = e;
        return 0;
    }
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
    if (r == 0 && !hinted && rn_libc_poll(&p, 1, 0) == 0) {
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

/* 1 if fd is a stream shim socket whose host is gone (or no longer knows it, a new
 * host at the same place): its S closed because the host died.  errno kept. */
int rn_host_gone(int fd)
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
ssize_t rn_wr_end_slow(int fd)
{
    errno = rn_host_gone(fd) ? ECONNRESET : EPIPE;
    return -1;
}

/* A read on a TCP socket that never connected fails at once with ENOTCONN on Linux;
 * its A (empty, S open) would block.  Sockets this process made carry F_UNCONN until
 * they connect (RN_OP_REOPEN gives a fresh cache entry); while it is set, reads ask the
 * host first (one cache load otherwise).  1: fail with errno set, 0: read A. */
int rn_unconn(int fd)
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
int rn_buf_bad(const void *b, size_t n)
{
    uintptr_t p = (uintptr_t)b;
    return p + n < p || p + n > 0x7ffffffff000ULL ? EFAULT : 0; /* TASK_SIZE_MAX */
}

int rn_iov_bad(const struct iovec *v, size_t cnt, int toomany)
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

ssize_t do_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr,
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

ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags)
{
    struct rn_sock ds;
    DG_PATH(fd, ds, dg_recvmsg(fd, &ds, msg, flags));
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
        else {
            tb_ptr(&t, (void *)msg);
            tb_add(&t, ", ");
        }
        tb_msgflags(&t, flags);
        tb_add(&t, ")");
        tb_ret(&t, (long)r, e);
        tb_emit(&t);
    }
    return r;
}

