/* dgram.c - datagram shim sockets (UDP): the fd cache, destinations, send and receive.
 *
 * A datagram socket's A end is one end of a SOCK_SEQPACKET pair; every message is
 * struct rn_dgram_hdr + payload (rn_protocol.h).  Every read/recv/send variant is
 * wrapped for these fds: sends prepend the header (destination address), receives
 * strip it (source address, MSG_TRUNC from the kernel's own seqpacket truncation,
 * MSG_PEEK natively).  Blocking always happens natively on A.
 *
 * Fast path: the interposers of read/write/recv/send/readv/writev first look at the
 * per-fd cache only (no syscall): stream fds and non-shim fds go straight to libc.
 * A datagram fd known to the cache is used as the cache says (dg_confirm).
 *
 * A destination address is checked once by the host (RN_OP_DGRAM_CHECK: the errno
 * sendto would give, and the largest payload for it); the answer is cached per fd.
 */

#include "internal.h"

#include <time.h>

struct iovec *rn_iov_get(struct rn_iovbuf *b, size_t n)
{
    b->maplen = 0;
    if (n > RN_DG_IOV_MAX + 1)
        n = 1; /* refused (EMSGSIZE) before any entry is used */
    if (n <= RN_IOV_SMALL)
        return b->small;
    void *p = mmap(NULL, n * sizeof(struct iovec), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    b->maplen = n * sizeof(struct iovec);
    return p;
}
void rn_iov_put(struct rn_iovbuf *b, struct iovec *v)
{
    if (b->maplen) {
        int e = errno;
        munmap(v, b->maplen);
        errno = e;
    }
}

/* The program's iovec array into iov[1..cnt] (iov[0] is left for our header): 0, or
 * EMSGSIZE / EFAULT as the kernel checks them. */
int dg_iov_in(struct iovec *iov, const struct iovec *uiov, size_t cnt)
{
    if (cnt > RN_DG_IOV_MAX)
        return EMSGSIZE;
    if (cnt && rn_copy_in(iov + 1, uiov, cnt * sizeof *iov) < 0)
        return EFAULT;
    return 0;
}

/* As dg_iov_in; own: uiov is the stub's own array (send, recv, read, write), no safe
 * copy needed (the kernel checks the buffers themselves). */
static int dg_iov_take(struct iovec *iov, const struct iovec *uiov, size_t cnt, int own)
{
    if (!own)
        return dg_iov_in(iov, uiov, cnt);
    memcpy(iov + 1, uiov, cnt * sizeof *iov);
    return 0;
}

/* The sum of the lengths of iov[1..cnt]: 0, or EINVAL past SSIZE_MAX as the kernel. */
int dg_iov_total(const struct iovec *iov, size_t cnt, size_t *total)
{
    size_t sum = 0;
    for (size_t i = 1; i <= cnt; i++) {
        if (iov[i].iov_len > (size_t)SSIZE_MAX - sum)
            return EINVAL;
        sum += iov[i].iov_len;
    }
    *total = sum;
    return 0;
}

/* A datagram shim fd this process got without socket()/accept() (inherited over exec,
 * received over SCM_RIGHTS) is unknown to the cache, and read/write look at the cache
 * only.  Mark fd a candidate when it is a SEQPACKET socket named like ours; the first
 * data call classifies it (no RPC here).  Anything else: unknown (0). */
static void rn_dg_mark(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
    struct stat st;
    int type = 0;
    socklen_t tl = sizeof type;
    if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
        REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_SEQPACKET)
        return;
    struct sockaddr_un un;
    socklen_t l = sizeof un;
    memset(&un, 0, sizeof un);
    const size_t plen = sizeof(RN_NAME_PREFIX) - 1;
    if (REAL(getsockname)(fd, (struct sockaddr *)&un, &l) < 0 || un.sun_family != AF_UNIX ||
        l <= offsetof(struct sockaddr_un, sun_path) + 1 + plen || un.sun_path[0] != 0 ||
        memcmp(un.sun_path + 1, RN_NAME_PREFIX, plen) != 0)
        return;
    rn_cache_set(fd, (uint64_t)st.st_ino, rn_mkinfo(ST_DG_CANDIDATE, 0, RN_KIND_DGRAM, 0));
}

/* At load: the fds inherited over exec. */
void rn_dg_scan(void)
{
    int lim = rn_high_base();
    for (int fd = 0; fd < lim && fd < RN_CACHE_N; fd++) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            if (errno == EBADF && fd > 255)
                break; /* a hole after the low fds: programs rarely inherit beyond */
            continue;
        }
        rn_dg_mark(fd);
    }
}

/* After a successful receive into msg: the fds that arrived as SCM_RIGHTS take numbers
 * the cache may remember from an earlier fd; mark them afresh.  The kernel has just
 * written msg's control buffer, so it is readable. */
void rn_dg_adopt_rights(const struct msghdr *msg)
{
    if (!g_enabled || msg->msg_control == NULL || msg->msg_controllen < sizeof(struct cmsghdr))
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof fd, sizeof fd);
            rn_dg_mark(fd);
        }
    }
}

/* ---- destination cache ------------------------------------------------- */

struct rn_dgdest {
    int fd;
    uint64_t ino;
    socklen_t len;
    int maxlen;
    unsigned char sa[28];
};
#define RN_DGDEST_N 256
static struct rn_dgdest g_dgdest[RN_DGDEST_N];
pthread_mutex_t g_dlock = PTHREAD_MUTEX_INITIALIZER;

static void rn_dg_forget(int fd)
{
    if (rn_guard(&g_dlock, RN_L_DGRAM) < 0)
        return; /* re-entered: the entry is checked against the inode anyway */
    struct rn_dgdest *d = &g_dgdest[(unsigned)fd % RN_DGDEST_N];
    if (d->fd == fd)
        d->len = 0;
    rn_unguard(&g_dlock, RN_L_DGRAM);
}

/* 0 with *maxlen, or -1 with errno. sa/len: the program's address (len 0: none). */
static int rn_dg_check(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len,
                       int *maxlen)
{
    if (len == 0 && (s->info & F_DG_CONN)) {
        *maxlen = (s->info & F_DG_PEER6) ? 65527 : 65507;
        return 0;
    }
    socklen_t kl = len > 28 ? 28 : len;
    if (len != 0) {
        int hit = 0;
        if (rn_guard(&g_dlock, RN_L_DGRAM) == 0) { /* re-entered: a miss, ask the host */
            struct rn_dgdest *d = &g_dgdest[(unsigned)fd % RN_DGDEST_N];
            if (d->fd == fd && d->ino == s->ino && d->len == len &&
                memcmp(d->sa, sa, kl) == 0) {
                *maxlen = d->maxlen;
                hit = 1;
            }
            rn_unguard(&g_dlock, RN_L_DGRAM);
        }
        if (hit)
            return 0;
    }
    struct rn_resp resp;
    if (rn_rpc(RN_OP_DGRAM_CHECK, INFO_ID(s->info), len == 0 ? 1 : 0, 0, 0, 0, sa, kl, &resp,
               NULL, 0, NULL, 0) < 0)
        return -1;
    if (rn_result(&resp) < 0)
        return -1;
    *maxlen = (int)resp.arg[0];
    if (len == 0) {
        uint64_t set = F_DG_CONN | (*maxlen == 65527 ? F_DG_PEER6 : 0);
        rn_cache_flags(fd, s, set, F_DG_PEER6 & ~set);
        s->info = (s->info | set) & ~(F_DG_PEER6 & ~set);
    } else if (rn_guard(&g_dlock, RN_L_DGRAM) == 0) { /* re-entered: not cached */
        struct rn_dgdest *d = &g_dgdest[(unsigned)fd % RN_DGDEST_N];
        d->fd = fd;
        d->ino = s->ino;
        d->len = len;
        d->maxlen = *maxlen;
        memcpy(d->sa, sa, kl);
        rn_unguard(&g_dlock, RN_L_DGRAM);
    }
    return 0;
}

/* After a successful connect of a datagram socket (len 2 + AF_UNSPEC: dissolved). */
void rn_dg_connected(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len)
{
    sa_family_t fam = AF_UNSPEC;
    if (len >= sizeof fam)
        memcpy(&fam, sa, sizeof fam);
    rn_dg_forget(fd);
    if (fam == AF_UNSPEC) {
        rn_cache_flags(fd, s, 0, F_DG_CONN | F_DG_PEER6);
        return;
    }
    int v6 = 0;
    if (fam == AF_INET6 && len >= 24) {
        struct in6_addr a;
        memcpy(&a, sa + offsetof(struct sockaddr_in6, sin6_addr), sizeof a);
        v6 = !IN6_IS_ADDR_V4MAPPED(&a);
    }
    rn_cache_flags(fd, s, F_DG_CONN | (v6 ? F_DG_PEER6 : 0), v6 ? 0 : F_DG_PEER6);
}

/* shutdown() of a datagram socket, after the host's answer (done: Linux set the flags,
 * also when it returned ENOTCONN).  Reading: A is shut natively (receives see EOF).
 * Writing: a flag, not a native shutdown, which would show the host a POLLHUP on S as
 * if A were closed; UDP sends after SHUT_WR fail with EPIPE and no SIGPIPE. */
void rn_dg_shutdown(int fd, struct rn_sock *s, int how, int done)
{
    if (!done)
        return;
    if (how == SHUT_RD || how == SHUT_RDWR)
        REAL(shutdown)(fd, SHUT_RD);
    if (how == SHUT_WR || how == SHUT_RDWR)
        rn_cache_flags(fd, s, F_DG_SHUTWR, 0);
}

/* ---- pending errors ------------------------------------------------------ */

/* Take the socket error (SO_ERROR) after an error record: 0 if none is pending. */
int rn_dg_take_error(int fd, struct rn_sock *s)
{
    int v = 0;
    if (rn_sock_error(fd, s, &v) < 0)
        return errno;
    return v;
}

/* The error whose record recvmmsg consumed after returning datagrams before it. */
int rn_dg_take_pending(int fd, struct rn_sock *s)
{
    rn_cache_flags(fd, s, 0, F_DG_ERRPEND);
    s->info &= ~F_DG_ERRPEND;
    return rn_dg_take_error(fd, s);
}

/* A connected socket: an error record at the head of A's queue is reported by the next
 * send as by the next receive (Linux: sock_error in the send path). */
static int rn_dg_send_error(int fd, struct rn_sock *s)
{
    if (s->info & F_DG_ERRPEND)
        return rn_dg_take_pending(fd, s);
    struct rn_dgram_hdr h;
    ssize_t k = REAL(recv)(fd, &h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
    if (k != (ssize_t)sizeof h || !(h.flags & RN_DG_ERROR))
        return 0;
    REAL(recv)(fd, &h, sizeof h, MSG_DONTWAIT); /* consume the record */
    return rn_dg_take_error(fd, s);
}

/* ---- send ----------------------------------------------------------------- */

struct dg_rres;
ssize_t alg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, const void *uctl, size_t clen, int *err); /* alg.c */
ssize_t alg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, struct dg_rres *res, int *err); /* alg.c */

/* One datagram ready for the kernel: its header (destination) into *h and iov[0], the
 * program's iovec array (user memory, copied safely unless own) into iov[1..iovcnt]; the
 * payload length, or -1 with *err.  check_err: report a pending error of a connected
 * socket. */
ssize_t dg_send_prep(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                            int flags, const void *uaddr, socklen_t alen, struct rn_dgram_hdr *h,
                            struct iovec *iov, int check_err, int own, int *err)
{
    unsigned char sa[sizeof(struct sockaddr_storage)];
    socklen_t l = 0;
    if ((*err = dg_iov_take(iov, uiov, iovcnt, own)) != 0)
        return -1;
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    size_t total;
    if ((*err = dg_iov_total(iov, iovcnt, &total)) != 0)
        return -1;
    if (uaddr != NULL && alen != 0) {
        if ((int)alen < 0 || alen > sizeof sa) {
            *err = EINVAL;
            return -1;
        }
        if (rn_copy_in(sa, uaddr, alen) < 0) {
            *err = EFAULT;
            return -1;
        }
        l = alen;
    }
    int maxlen = 0;
    if (rn_dg_check(fd, s, sa, l, &maxlen) < 0) {
        *err = errno;
        return -1;
    }
    if (total > (size_t)maxlen) {
        *err = EMSGSIZE;
        return -1;
    }
    if (check_err && (s->info & F_DG_CONN)) {
        int e = rn_dg_send_error(fd, s);
        if (e) {
            *err = e;
            return -1;
        }
    }
    if (s->info & F_DG_SHUTWR) {
        *err = EPIPE;
        return -1;
    }
    memset(h, 0, sizeof *h);
    if (flags & MSG_MORE)
        h->flags = RN_DG_MORE;
    if (l) {
        h->addrlen = (uint16_t)(l > sizeof h->addr ? sizeof h->addr : l);
        memcpy(h->addr, sa, h->addrlen);
    }
    iov[0].iov_base = h;
    iov[0].iov_len = sizeof *h;
    return (ssize_t)total;
}

/* After a send on A failed with e: 1 to send again.  A full A is the host behind, not
 * the network: Linux hands a UDP datagram to the device (on loopback, to the receiver,
 * which may drop it) and never answers EAGAIN for that, so a non-blocking send waits
 * for the host to drain A (a dead host: POLLHUP, and the next send fails). */
int dg_host_behind(int fd, int e)
{
    if (e == EINTR)
        return 1;
    if (e != EAGAIN)
        return 0;
    struct pollfd p = {fd, POLLOUT, 0};
    int k = poll(&p, 1, -1);
    errno = e;
    return k >= 0 || errno == EINTR;
}

/* cm (DG_CM_*, internal.h): per-datagram IP_TTL / IPV6_HOPLIMIT (DG_CM_TTL | value) and IP_TOS / IPV6_TCLASS
 * (DG_CM_TOS | value << 16) from sendmsg's control data (dg_send_ctl), or 0 */
static ssize_t dg_send_iov(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                           int flags, const void *uaddr, socklen_t alen, int own, uint32_t cm,
                           int *err, struct iovec *iov)
{
    struct rn_dgram_hdr h;
    if (dg_send_prep(fd, s, uiov, iovcnt, flags, uaddr, alen, &h, iov, 1, own, err) < 0)
        return -1;
    if (cm & DG_CM_TTL) {
        h.flags |= RN_DG_SEND_TTL;
        h.ttl = (uint8_t)cm;
    }
    if (cm & DG_CM_TOS) {
        h.flags |= RN_DG_SEND_TOS;
        h.tos = (uint8_t)(cm >> 16);
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = iovcnt + 1;
    ssize_t r;
    while ((r = REAL(sendmsg)(fd, &m, (flags & MSG_DONTWAIT) | MSG_NOSIGNAL)) < 0 &&
           dg_host_behind(fd, errno))
        ;
    if (r < 0) {
        *err = errno;
        return -1;
    }
    return r - (ssize_t)sizeof h;
}

ssize_t dg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                       int flags, const void *uaddr, socklen_t alen, int own, uint32_t cm,
                       int *err)
{
    if (INFO_KIND(s->info) == RN_KIND_ALG)
        return alg_send(fd, s, uiov, iovcnt, flags, NULL, 0, err);
    struct rn_iovbuf b;
    struct iovec *iov = rn_iov_get(&b, iovcnt + 1);
    if (iov == NULL) {
        *err = ENOMEM;
        return -1;
    }
    ssize_t r = dg_send_iov(fd, s, uiov, iovcnt, flags, uaddr, alen, own, cm, err, iov);
    rn_iov_put(&b, iov);
    return r;
}

/* ---- receive --------------------------------------------------------------- */

/* recvmsg(MSG_ERRQUEUE): the host pops the oldest entry of the socket's error queue
 * (IP_RECVERR) after taking every datagram sent so far through the stack. */
static ssize_t dg_errqueue(struct rn_sock *s, struct iovec *iov, size_t iovcnt,
                           struct dg_rres *res, int *err)
{
    static __thread unsigned char buf[RN_MAX_PAYLOAD];
    struct rn_resp resp;
    if (rn_rpc(RN_OP_DGRAM_SYNC, INFO_ID(s->info), 1, 0, 0, 0, NULL, 0, &resp, buf, sizeof buf,
               NULL, 0) < 0) {
        *err = errno;
        return -1;
    }
    if (resp.ret < 0) {
        *err = resp.err;
        return -1;
    }
    size_t head = 16 + 4 + 28 + 28;
    if (resp.payload_len < head) {
        *err = EAGAIN;
        return -1;
    }
    uint16_t nl, ol;
    memcpy(&nl, buf + 16, 2);
    memcpy(&ol, buf + 18, 2);
    if (nl > 28)
        nl = 28;
    if (ol > 28)
        ol = 28;
    res->addrlen = nl;
    memcpy(res->addr, buf + 20, nl);
    memcpy(res->ee, buf, 16);
    memcpy(res->ee + 16, buf + 48, ol);
    res->eelen = 16 + (size_t)ol;
    res->hflags = DG_RES_RECVERR;
    size_t len = resp.payload_len > head ? resp.payload_len - head : 0, done = 0;
    for (size_t i = 0; i < iovcnt && done < len; i++) {
        size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;
        if (k && rn_copy_out(iov[i].iov_base, buf + head + done, k) < 0) {
            *err = EFAULT;
            return -1;
        }
        done += k;
    }
    res->msg_flags = MSG_ERRQUEUE | ((size_t)resp.ret > done ? MSG_TRUNC : 0);
    return (ssize_t)done;
}

/* A received datagram's header (and the kernel's msg_flags for it) into res. */
void dg_res_set(struct dg_rres *res, const struct rn_dgram_hdr *h, int msg_flags)
{
    res->msg_flags = msg_flags & MSG_TRUNC;
    res->addrlen = h->addrlen > sizeof res->addr ? sizeof res->addr : h->addrlen;
    memcpy(res->addr, h->addr, res->addrlen);
    res->hflags = h->flags;
    res->tos = h->tos;
    res->ttl = h->ttl;
    res->ifindex = h->ifindex;
    memcpy(res->local, h->local, sizeof res->local);
}

/* The host takes every datagram sent so far through the stack (RN_OP_DGRAM_SYNC). */
int dg_sync(struct rn_sock *s)
{
    struct rn_resp resp;
    return rn_rpc(RN_OP_DGRAM_SYNC, INFO_ID(s->info), 0, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL,
                  0);
}

static ssize_t dg_recv_iov(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                           int flags, struct dg_rres *res, int own, int *err, struct iovec *iov)
{
    if ((*err = dg_iov_take(iov, uiov, iovcnt, own)) != 0)
        return -1;
    if (flags & MSG_ERRQUEUE)
        return dg_errqueue(s, iov + 1, iovcnt, res, err);
    if (flags & MSG_OOB) {
        *err = EOPNOTSUPP;
        return -1;
    }
    if (s->info & F_DG_ERRPEND) {
        int e = rn_dg_take_pending(fd, s);
        if (e) {
            *err = e;
            return -1;
        }
    }
    struct rn_dgram_hdr h;
    int synced = 0;
    for (;;) {
        iov[0].iov_base = &h;
        iov[0].iov_len = sizeof h;
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = iovcnt + 1;
        ssize_t r = REAL(recvmsg)(fd, &m, flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC));
        if (r < 0 && errno == EAGAIN && !synced) {
            /* Linux delivers on loopback before sendto returns: let the host catch up */
            synced = 1;
            if (dg_sync(s) == 0)
                continue;
            errno = EAGAIN;
        }
        if (r < 0) {
            *err = errno;
            return -1;
        }
        res->msg_flags = 0;
        res->addrlen = 0;
        if ((size_t)r < sizeof h) {
            /* EOF: shut down for reading.  Linux: 0 for a blocking receive, EAGAIN for a
             * non-blocking one (the empty queue is seen before the shutdown) */
            int fl = (flags & MSG_DONTWAIT) ? O_NONBLOCK : fcntl(fd, F_GETFL);
            if (fl >= 0 && (fl & O_NONBLOCK)) {
                *err = EAGAIN;
                return -1;
            }
            return 0;
        }
        if (h.flags & RN_DG_ERROR) {
            if (flags & MSG_PEEK)
                REAL(recv)(fd, &h, sizeof h, MSG_DONTWAIT);
            int e = rn_dg_take_error(fd, s);
            if (e) {
                *err = e;
                return -1;
            }
            continue;
        }
        dg_res_set(res, &h, m.msg_flags);
        return r - (ssize_t)sizeof h;
    }
}

ssize_t dg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                       int flags, struct dg_rres *res, int own, int *err)
{
    if (INFO_KIND(s->info) == RN_KIND_ALG)
        return alg_recv(fd, s, uiov, iovcnt, flags, res, err);
    struct rn_iovbuf b;
    struct iovec *iov = rn_iov_get(&b, iovcnt + 1);
    if (iov == NULL) {
        *err = ENOMEM;
        return -1;
    }
    ssize_t r = dg_recv_iov(fd, s, uiov, iovcnt, flags, res, own, err, iov);
    rn_iov_put(&b, iov);
    return r;
}

/* ---- the calls ------------------------------------------------------------- */

void dg_trace(const char *call, int fd, long count, int flags, long r, int err)
{
    if (RN_UNLIKELY(g_trace_on))
        trace_io(call, fd, count, 1, flags, r, err);
}

/* -1: not a datagram shim fd after all (use the normal path); 1: ours.  A classified
 * entry is trusted without an fstat: every call that frees or makes a number is
 * interposed (close, close_range, closefrom, dup2/dup3, F_DUPFD, socket, accept,
 * socketpair, SCM_RIGHTS) and drops or resets it.  A number closed where the stub cannot
 * see (libc's own close, as in fclose of an fdopen'd socket) and reused for a file makes
 * the kernel answer ENOTSOCK: dg_stale.  Tracing classifies every call, so its lines name
 * only our sockets. */
int dg_confirm(int fd, struct rn_sock *s)
{
    if (!g_trace_on) {
        uint64_t i1 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        uint64_t ino = __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE);
        uint64_t i2 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        if (i1 == i2 && INFO_STATE(i1) == ST_SHIM &&
            (INFO_KIND(i1) == RN_KIND_DGRAM || INFO_KIND(i1) == RN_KIND_ALG)) {
            s->info = i1;
            s->ino = ino;
            return 1;
        }
    }
    int saved = errno;
    int c = rn_classify(fd, s);
    errno = saved;
    return c > 0 && (INFO_KIND(s->info) == RN_KIND_DGRAM || INFO_KIND(s->info) == RN_KIND_ALG)
               ? 1
               : -1;
}

/* After a datagram call on the cache's word failed (r < 0): 1 if fd is not s's socket
 * any more (closed, or another file or socket at the number): the entry is dropped and
 * the call is the caller's to make on its own path.  Failures only: a success went to
 * our socket.  errno is kept. */
int dg_stale(int fd, const struct rn_sock *s, ssize_t r)
{
    if (r >= 0)
        return 0;
    int saved = errno;
    struct stat st;
    int stale = fstat(fd, &st) < 0 || st.st_ino != s->ino;
    if (stale)
        __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
    errno = saved;
    return stale;
}

ssize_t dg_sendto(int fd, struct rn_sock *s, const void *buf, size_t n, int flags,
                         const void *addr, socklen_t alen, const char *call)
{
    int saved = errno, err = 0;
    struct iovec v = {(void *)buf, n};
    ssize_t r = dg_send(fd, s, &v, 1, flags, addr, alen, 1, 0, &err);
    dg_trace(call, fd, (long)n, flags, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

ssize_t dg_recvfrom(int fd, struct rn_sock *s, void *buf, size_t n, int flags,
                           struct sockaddr *addr, socklen_t *alen, const char *call)
{
    int saved = errno, err = 0, shown;
    struct iovec v = {buf, n};
    struct dg_rres res;
    ssize_t r = dg_recv(fd, s, &v, 1, flags, &res, 1, &err);
    if (r >= 0 && addr != NULL && rn_put_addr(addr, alen, res.addr, res.addrlen, &shown) < 0) {
        err = errno;
        r = -1;
    }
    dg_trace(call, fd, (long)n, flags, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

