/* dgram.c - datagram shim sockets (UDP), #included by stub.c.
 *
 * A datagram socket's A end is one end of a SOCK_SEQPACKET pair; every message is
 * struct rn_dgram_hdr + payload (rn_protocol.h).  Every read/recv/send variant is
 * wrapped for these fds: sends prepend the header (destination address), receives
 * strip it (source address, MSG_TRUNC from the kernel's own seqpacket truncation,
 * MSG_PEEK natively).  Blocking always happens natively on A.
 *
 * Fast path: the interposers of read/write/recv/send/readv/writev first look at the
 * per-fd cache only (no syscall): stream fds and non-shim fds go straight to libc.
 * A datagram fd known to the cache is confirmed with rn_classify (fstat) before use.
 *
 * A destination address is checked once by the host (RN_OP_DGRAM_CHECK: the errno
 * sendto would give, and the largest payload for it); the answer is cached per fd.
 */

#include <time.h>

#define F_DG_CONN (1ULL << 50)  /* connected (a default peer) */
#define F_DG_PEER6 (1ULL << 51) /* the peer is IPv6 (65527-byte limit) */
#define F_DG_SHUTWR (1ULL << 52) /* shut down for writing: sends fail with EPIPE */
#define F_DG_ERRPEND (1ULL << 60) /* recvmmsg took an error record after datagrams: report next */
#define RN_DG_IOV_MAX 1024

/* An iovec array of n entries (with our header's, at most RN_DG_IOV_MAX + 1): on the
 * stack for the usual counts, else mapped (mmap is async-signal-safe, and a handler's
 * stack is small: 1025 entries are 16 KiB). */
#define RN_IOV_SMALL 17
struct rn_iovbuf {
    struct iovec small[RN_IOV_SMALL];
    size_t maplen;
};
static struct iovec *rn_iov_get(struct rn_iovbuf *b, size_t n)
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
static void rn_iov_put(struct rn_iovbuf *b, struct iovec *v)
{
    if (b->maplen) {
        int e = errno;
        munmap(v, b->maplen);
        errno = e;
    }
}

/* The program's iovec array into iov[1..cnt] (iov[0] is left for our header): 0, or
 * EMSGSIZE / EFAULT as the kernel checks them. */
static int dg_iov_in(struct iovec *iov, const struct iovec *uiov, size_t cnt)
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
static int dg_iov_total(const struct iovec *iov, size_t cnt, size_t *total)
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

static inline int rn_dg_hint(int fd)
{
    if (!g_enabled || fd < 0 || fd >= RN_CACHE_N)
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
    return (INFO_STATE(i) == ST_SHIM &&
            (INFO_KIND(i) == RN_KIND_DGRAM || INFO_KIND(i) == RN_KIND_ALG)) ||
           INFO_STATE(i) == ST_DG_CANDIDATE;
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
static void rn_dg_scan(void)
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
static void rn_dg_adopt_rights(const struct msghdr *msg)
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
static pthread_mutex_t g_dlock = PTHREAD_MUTEX_INITIALIZER;

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
static void rn_dg_connected(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len)
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
static void rn_dg_shutdown(int fd, struct rn_sock *s, int how, int done)
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
static int rn_dg_take_error(int fd, struct rn_sock *s)
{
    int v = 0;
    if (rn_sock_error(fd, s, &v) < 0)
        return errno;
    return v;
}

/* The error whose record recvmmsg consumed after returning datagrams before it. */
static int rn_dg_take_pending(int fd, struct rn_sock *s)
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
static ssize_t alg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, const void *uctl, size_t clen, int *err); /* alg.c */
static ssize_t alg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, struct dg_rres *res, int *err); /* alg.c */

/* One datagram ready for the kernel: its header (destination) into *h and iov[0], the
 * program's iovec array (user memory, copied safely unless own) into iov[1..iovcnt]; the
 * payload length, or -1 with *err.  check_err: report a pending error of a connected
 * socket. */
static ssize_t dg_send_prep(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
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
static int dg_host_behind(int fd, int e)
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

/* cm: per-datagram IP_TTL / IPV6_HOPLIMIT (DG_CM_TTL | value) and IP_TOS / IPV6_TCLASS
 * (DG_CM_TOS | value << 16) from sendmsg's control data (dg_send_ctl), or 0 */
#ifndef MSG_PROBE
#define MSG_PROBE 0x10 /* linux/socket.h: "do not send, only probe path" (glibc: MSG_PROXY) */
#endif
#define DG_CM_TTL 0x100u
#define DG_CM_TOS 0x1000000u
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

static ssize_t dg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
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
static void dg_res_set(struct dg_rres *res, const struct rn_dgram_hdr *h, int msg_flags)
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
static int dg_sync(struct rn_sock *s)
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

static ssize_t dg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
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

static void dg_trace(const char *call, int fd, long count, int flags, long r, int err)
{
    if (RN_UNLIKELY(g_trace_on))
        trace_io(call, fd, count, 1, flags, r, err);
}

/* -1: not a datagram shim fd after all (use the normal path); 1: ours. */
static int dg_confirm(int fd, struct rn_sock *s)
{
    int saved = errno;
    int c = rn_classify(fd, s);
    errno = saved;
    return c > 0 && (INFO_KIND(s->info) == RN_KIND_DGRAM || INFO_KIND(s->info) == RN_KIND_ALG)
               ? 1
               : -1;
}

static ssize_t dg_sendto(int fd, struct rn_sock *s, const void *buf, size_t n, int flags,
                         const void *addr, socklen_t alen, const char *call)
{
    int saved = errno, err = 0;
    struct iovec v = {(void *)buf, n};
    ssize_t r = dg_send(fd, s, &v, 1, flags, addr, alen, 1, 0, &err);
    dg_trace(call, fd, (long)n, flags, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

static ssize_t dg_recvfrom(int fd, struct rn_sock *s, void *buf, size_t n, int flags,
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

/* sendmsg's control data on a UDP socket.  The kernel judges it (lengths, levels,
 * types, values, EFAULT): the same control, sent with MSG_PROBE (parsed, routed, never
 * transmitted) from a kernel UDP socket of the family to its loopback.  Then the hop
 * limit / TTL and traffic class / TOS it asks for go with the datagram.
 * 0 (*cm set) or -1 with *err. */
static int dg_send_ctl(struct rn_sock *s, const struct msghdr *m, uint32_t *cm, int *err)
{
    struct rn_resp resp;
    int dom = AF_INET;
    if (rn_rpc(RN_OP_GETSOCKOPT, INFO_ID(s->info), SOL_SOCKET, SO_DOMAIN, sizeof dom, 0, NULL, 0,
               &resp, &dom, sizeof dom, NULL, 0) < 0) {
        *err = errno;
        return -1;
    }
    int v6 = dom == AF_INET6;
    int p = REAL(socket)(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p < 0) {
        *err = errno;
        return -1;
    }
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(9),
                             .sin_addr = {htonl(INADDR_LOOPBACK)}};
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(9),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    char one = 0; /* a payload: the kernel judges control data only for one */
    struct iovec piov = {&one, 1};
    struct msghdr pm;
    memset(&pm, 0, sizeof pm);
    pm.msg_iov = &piov;
    pm.msg_iovlen = 1;
    pm.msg_name = v6 ? (void *)&a6 : (void *)&a4;
    pm.msg_namelen = v6 ? sizeof a6 : sizeof a4;
    pm.msg_control = m->msg_control;
    pm.msg_controllen = m->msg_controllen;
    ssize_t r = REAL(sendmsg)(p, &pm, MSG_PROBE | MSG_DONTWAIT | MSG_NOSIGNAL);
    int e = errno;
    REAL(close)(p);
    if (r < 0) {
        *err = e;
        return -1;
    }
    unsigned char cb[256] __attribute__((aligned(8)));
    size_t cl = m->msg_controllen < sizeof cb ? m->msg_controllen : sizeof cb;
    if (rn_copy_in(cb, m->msg_control, cl) < 0)
        return 0; /* unmapped since the kernel read it: nothing to apply */
    struct msghdr c;
    memset(&c, 0, sizeof c);
    c.msg_control = cb;
    c.msg_controllen = cl;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&c); h; h = CMSG_NXTHDR(&c, h)) {
        int val;
        if (h->cmsg_len < CMSG_LEN(1) || (size_t)((unsigned char *)h - cb) + h->cmsg_len > cl)
            break;
        if (h->cmsg_len == CMSG_LEN(1)) /* IP_TOS as one byte */
            val = *CMSG_DATA(h);
        else if (h->cmsg_len == CMSG_LEN(sizeof val))
            memcpy(&val, CMSG_DATA(h), sizeof val);
        else
            continue;
        /* hop limit -1: the socket's; a class of -1 too where the kernel says so (the
         * profile's tclass_cmsg_sock), else it goes out as 0xff */
        if (val < 0 && !(v6 && h->cmsg_type == IPV6_TCLASS && !g_tclass_sock))
            continue;
        if ((v6 && h->cmsg_level == SOL_IPV6 && h->cmsg_type == IPV6_HOPLIMIT) ||
            (!v6 && h->cmsg_level == SOL_IP && h->cmsg_type == IP_TTL))
            *cm = (*cm & ~0xffu) | DG_CM_TTL | (uint32_t)(val & 0xff);
        else if ((v6 && h->cmsg_level == SOL_IPV6 && h->cmsg_type == IPV6_TCLASS) ||
                 (!v6 && h->cmsg_level == SOL_IP && h->cmsg_type == IP_TOS))
            *cm = (*cm & ~0xff0000u) | DG_CM_TOS | (uint32_t)(val & 0xff) << 16;
    }
    return 0;
}

static ssize_t dg_sendmsg(int fd, struct rn_sock *s, const struct msghdr *msg, int flags)
{
    int saved = errno, err = 0;
    struct msghdr m;
    ssize_t r;
    if (rn_copy_in(&m, msg, sizeof m) < 0) {
        err = EFAULT;
        r = -1;
    } else if (INFO_KIND(s->info) == RN_KIND_ALG) {
        r = alg_send(fd, s, m.msg_iov, m.msg_iovlen, flags, m.msg_control, m.msg_controllen,
                     &err);
    } else {
        uint32_t cm = 0;
        r = m.msg_controllen ? dg_send_ctl(s, &m, &cm, &err) : 0;
        if (r == 0)
            r = dg_send(fd, s, m.msg_iov, m.msg_iovlen, flags, m.msg_name,
                        m.msg_name ? m.msg_namelen : 0, 0, cm, &err);
    }
    dg_trace("sendmsg", fd, -1, flags, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

/* Control messages as Linux's put_cmsg lays them out in a buffer of cap bytes. */
struct dg_cm {
    unsigned char *buf;
    size_t cap, used;
    int ctrunc;
};

static void dg_put_cmsg(struct dg_cm *c, int level, int type, const void *data, size_t len)
{
    size_t room = c->cap - c->used;
    if (c->buf == NULL || room < sizeof(struct cmsghdr)) {
        c->ctrunc = 1;
        return;
    }
    size_t cmlen = CMSG_LEN(len);
    if (room < cmlen) {
        c->ctrunc = 1;
        cmlen = room;
    }
    struct cmsghdr h;
    memset(&h, 0, sizeof h);
    h.cmsg_len = cmlen;
    h.cmsg_level = level;
    h.cmsg_type = type;
    memcpy(c->buf + c->used, &h, sizeof h);
    memcpy(c->buf + c->used + CMSG_LEN(0), data, cmlen - CMSG_LEN(0));
    size_t adv = CMSG_SPACE(len);
    c->used += adv < room ? adv : room;
}

static void dg_pktinfo6(struct dg_cm *c, const struct dg_rres *res, int v4)
{
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    if (v4) {
        pi.ipi6_addr.s6_addr[10] = 0xff;
        pi.ipi6_addr.s6_addr[11] = 0xff;
        memcpy(&pi.ipi6_addr.s6_addr[12], res->local, 4);
    } else {
        memcpy(&pi.ipi6_addr, res->local, 16);
    }
    pi.ipi6_ifindex = res->ifindex;
    dg_put_cmsg(c, SOL_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
}

static void dg_cmsgs(struct dg_cm *c, const struct dg_rres *res)
{
    unsigned f = res->hflags;
    sa_family_t fam = AF_UNSPEC;
    if (res->addrlen >= sizeof fam)
        memcpy(&fam, res->addr, sizeof fam);
    int v4 = fam == AF_INET;
    if (fam == AF_INET6 && res->addrlen >= 24) {
        struct in6_addr a;
        memcpy(&a, res->addr + offsetof(struct sockaddr_in6, sin6_addr), sizeof a);
        v4 = IN6_IS_ADDR_V4MAPPED(&a);
    }
    if (f & DG_RES_RECVERR) {
        int v6 = res->ee[4] == 3; /* SO_EE_ORIGIN_ICMP6 */
        dg_put_cmsg(c, v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, res->ee,
                    res->eelen);
        return;
    }
    if (f & (RN_DG_CM_TSTAMP | RN_DG_CM_TSTAMPNS)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (f & RN_DG_CM_TSTAMP) {
            struct timeval tv = {ts.tv_sec, ts.tv_nsec / 1000};
            dg_put_cmsg(c, SOL_SOCKET, SO_TIMESTAMP, &tv, sizeof tv);
        }
        if (f & RN_DG_CM_TSTAMPNS)
            dg_put_cmsg(c, SOL_SOCKET, SO_TIMESTAMPNS, &ts, sizeof ts);
    }
    /* IPv4 datagram on an IPv6 socket: IPV6_PKTINFO first (ip6_datagram_recv_specific_ctl),
     * then the IP-level ones; hop limit and traffic class only for IPv6 datagrams */
    if (v4 && fam == AF_INET6 && (f & RN_DG_CM_PKTINFO6))
        dg_pktinfo6(c, res, 1);
    if (v4 && (f & RN_DG_CM_PKTINFO)) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof pi);
        pi.ipi_ifindex = (int)res->ifindex;
        memcpy(&pi.ipi_spec_dst, res->local, 4);
        memcpy(&pi.ipi_addr, res->local, 4);
        dg_put_cmsg(c, SOL_IP, IP_PKTINFO, &pi, sizeof pi);
    }
    if (v4 && (f & RN_DG_CM_TTL)) {
        int ttl = res->ttl;
        dg_put_cmsg(c, SOL_IP, IP_TTL, &ttl, sizeof ttl);
    }
    if (v4 && (f & RN_DG_CM_TOS))
        dg_put_cmsg(c, SOL_IP, IP_TOS, &res->tos, 1);
    if (v4)
        return;
    if (f & RN_DG_CM_PKTINFO6)
        dg_pktinfo6(c, res, 0);
    if (f & RN_DG_CM_HOPLIMIT) {
        int hl = res->ttl;
        dg_put_cmsg(c, SOL_IPV6, IPV6_HOPLIMIT, &hl, sizeof hl);
    }
    if (f & RN_DG_CM_TCLASS) {
        int tc = res->tos;
        dg_put_cmsg(c, SOL_IPV6, IPV6_TCLASS, &tc, sizeof tc);
    }
}

/* A received datagram's address, control messages and flags into the program's msghdr
 * (msg; m is its copy): 0 or an errno. */
static int dg_recv_out(struct msghdr *msg, const struct msghdr *m, const struct dg_rres *res)
{
    int shown;
    if (m->msg_name != NULL) {
        socklen_t *ulen = (socklen_t *)((char *)msg + offsetof(struct msghdr, msg_namelen));
        if (rn_put_addr(m->msg_name, ulen, res->addr, res->addrlen, &shown) < 0)
            return errno;
    }
    int mf = res->msg_flags;
    size_t cl = 0;
    if (res->hflags & ~RN_DG_ERROR) {
        unsigned char cbuf[512];
        struct dg_cm c = {m->msg_control ? cbuf : NULL,
                          m->msg_controllen < sizeof cbuf ? m->msg_controllen : sizeof cbuf, 0,
                          0};
        dg_cmsgs(&c, res);
        if (c.used && rn_copy_out(m->msg_control, cbuf, c.used) < 0)
            return EFAULT;
        cl = c.used;
        if (c.ctrunc)
            mf |= MSG_CTRUNC;
    }
    if (rn_copy_out((char *)msg + offsetof(struct msghdr, msg_flags), &mf, sizeof mf) < 0 ||
        rn_copy_out((char *)msg + offsetof(struct msghdr, msg_controllen), &cl, sizeof cl) < 0)
        return EFAULT;
    return 0;
}

static ssize_t dg_recvmsg(int fd, struct rn_sock *s, struct msghdr *msg, int flags)
{
    int saved = errno, err = 0;
    struct msghdr m;
    struct dg_rres res;
    ssize_t r;
    if (rn_copy_in(&m, msg, sizeof m) < 0) {
        err = EFAULT;
        r = -1;
        goto out;
    }
    r = dg_recv(fd, s, m.msg_iov, m.msg_iovlen, flags, &res, 0, &err);
    if (r >= 0 && (err = dg_recv_out(msg, &m, &res)) != 0)
        r = -1;
out:
    dg_trace("recvmsg", fd, -1, flags, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

static ssize_t dg_readv(int fd, struct rn_sock *s, const struct iovec *v, int cnt, int wr)
{
    int saved = errno, err = 0;
    ssize_t r;
    struct dg_rres res;
    if (cnt < 0 || cnt > RN_DG_IOV_MAX) {
        err = EINVAL;
        r = -1;
    } else if (wr) {
        r = dg_send(fd, s, v, (size_t)cnt, 0, NULL, 0, 0, 0, &err);
    } else {
        r = dg_recv(fd, s, v, (size_t)cnt, 0, &res, 0, &err);
    }
    dg_trace(wr ? "writev" : "readv", fd, cnt, 0, (long)r, err);
    errno = r < 0 ? err : saved;
    return r;
}

/* ---- recvmmsg / sendmmsg / dup ---------------------------------------------- */

typedef int (*f_recvmmsg_t)(int, struct mmsghdr *, unsigned int, int, struct timespec *);
typedef int (*f_sendmmsg_t)(int, struct mmsghdr *, unsigned int, int);
typedef int (*f_dup_t)(int);
typedef int (*f_dup2_t)(int, int);
typedef int (*f_dup3_t)(int, int, int);

static void *g_real_recvmmsg, *g_real_sendmmsg, *g_real_dup, *g_real_dup2, *g_real_dup3;

/* AF_ALG sockets and MSG_ERRQUEUE: one message at a time. */
static int dg_mmsg_each(int fd, struct rn_sock *s, struct mmsghdr *vec, unsigned int vlen,
                        int flags, int send)
{
    int saved = errno, err = 0;
    unsigned int done = 0;
    for (; done < vlen; done++) {
        struct mmsghdr *u = vec + done;
        ssize_t r;
        int f = flags & ~MSG_WAITFORONE;
        if (!send && done > 0 && (flags & MSG_WAITFORONE))
            f |= MSG_DONTWAIT;
        errno = 0;
        r = send ? dg_sendmsg(fd, s, &u->msg_hdr, f) : dg_recvmsg(fd, s, &u->msg_hdr, f);
        if (r < 0) {
            err = errno;
            break;
        }
        unsigned int len = (unsigned int)r;
        if (rn_copy_out(&u->msg_len, &len, sizeof len) < 0) {
            err = EFAULT;
            break;
        }
    }
    if (done == 0 && vlen > 0) {
        errno = err;
        return -1;
    }
    errno = saved;
    return (int)done;
}

/* sendmmsg/recvmmsg on UDP: up to DG_MMSG_BATCH datagrams per native sendmmsg/recvmmsg
 * on A (each with its header in front), so a batch is one system call. */
#define DG_MMSG_BATCH 64
#define DG_MMSG_IOVS (RN_DG_IOV_MAX + DG_MMSG_BATCH)
struct dg_batch {
    struct rn_dgram_hdr hdr[DG_MMSG_BATCH];
    struct mmsghdr mm[DG_MMSG_BATCH];
    struct msghdr um[DG_MMSG_BATCH]; /* the program's msghdrs (receive) */
    struct iovec iov[DG_MMSG_IOVS];
};

/* Whether message n of a batch with used iovecs taken has room for cnt more. */
static int dg_batch_room(size_t used, size_t cnt)
{
    return cnt > RN_DG_IOV_MAX || used + cnt + 1 <= DG_MMSG_IOVS;
}

static void dg_batch_msg(struct dg_batch *b, unsigned int n, size_t used, size_t cnt)
{
    memset(&b->mm[n], 0, sizeof b->mm[n]);
    b->mm[n].msg_hdr.msg_iov = b->iov + used;
    b->mm[n].msg_hdr.msg_iovlen = cnt + 1;
}

/* Linux's __sys_sendmmsg: the count sent, or the first message's error. */
static int dg_sendmmsg(int fd, struct rn_sock *s, struct mmsghdr *vec, unsigned int vlen,
                       int flags, struct dg_batch *bp)
{
    unsigned int done = 0;
    int err = 0;
    while (done < vlen && !err) {
        unsigned int n = 0;
        size_t used = 0;
        for (; done + n < vlen && n < DG_MMSG_BATCH; n++) {
            struct msghdr m;
            if (rn_copy_in(&m, &vec[done + n].msg_hdr, sizeof m) < 0) {
                err = EFAULT;
                break;
            }
            if (!dg_batch_room(used, m.msg_iovlen))
                break;
            if (dg_send_prep(fd, s, m.msg_iov, m.msg_iovlen, flags, m.msg_name,
                             m.msg_name ? m.msg_namelen : 0, &bp->hdr[n], bp->iov + used,
                             done + n == 0, 0, &err) < 0)
                break;
            dg_batch_msg(bp, n, used, m.msg_iovlen);
            used += m.msg_iovlen + 1;
        }
        if (n == 0)
            break;
        int k;
        while ((k = ((f_sendmmsg_t)rn_sym(&g_real_sendmmsg, "sendmmsg"))(
                    fd, bp->mm, n, (flags & MSG_DONTWAIT) | MSG_NOSIGNAL)) < 0 &&
               dg_host_behind(fd, errno))
            ;
        if (k < 0) {
            err = errno;
            break;
        }
        for (int i = 0; i < k; i++) {
            unsigned int len = bp->mm[i].msg_len - (unsigned int)sizeof bp->hdr[i];
            if (rn_copy_out(&vec[done].msg_len, &len, sizeof len) < 0) {
                err = EFAULT; /* sent, not counted (put_user after the send) */
                break;
            }
            done++;
        }
        if (k < (int)n && !dg_host_behind(fd, EAGAIN))
            break;
    }
    return done == 0 && err ? (errno = err, -1) : (int)done;
}

/* Linux's do_recvmmsg: MSG_WAITFORONE, the timeout checked after each datagram (the
 * kernel does it on A and updates *tmo), the count received or the first error. */
static int dg_recvmmsg(int fd, struct rn_sock *s, struct mmsghdr *vec, unsigned int vlen,
                       int flags, struct timespec *tmo, struct dg_batch *bp)
{
    unsigned int done = 0;
    int err = 0, synced = 0, stop = 0;
    if ((s->info & F_DG_ERRPEND) && (err = rn_dg_take_pending(fd, s)) != 0)
        stop = 1;
    while (done < vlen && !stop) {
        unsigned int n = 0;
        size_t used = 0;
        for (; done + n < vlen && n < DG_MMSG_BATCH; n++) {
            struct msghdr *m = &bp->um[n];
            if (rn_copy_in(m, &vec[done + n].msg_hdr, sizeof *m) < 0) {
                err = EFAULT;
                break;
            }
            if (!dg_batch_room(used, m->msg_iovlen))
                break;
            if ((err = dg_iov_in(bp->iov + used, m->msg_iov, m->msg_iovlen)) != 0)
                break;
            bp->iov[used].iov_base = &bp->hdr[n];
            bp->iov[used].iov_len = sizeof bp->hdr[n];
            dg_batch_msg(bp, n, used, m->msg_iovlen);
            used += m->msg_iovlen + 1;
        }
        if (n == 0)
            break;
        int f = flags & (MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC | MSG_WAITFORONE);
        if (done > 0 && (flags & MSG_WAITFORONE))
            f |= MSG_DONTWAIT;
        int k = ((f_recvmmsg_t)rn_sym(&g_real_recvmmsg, "recvmmsg"))(fd, bp->mm, n, f, tmo);
        if (k < 0 && errno == EAGAIN && done == 0 && !synced) {
            synced = 1; /* as dg_recv: the host catches up once */
            if (dg_sync(s) == 0) {
                err = 0;
                continue;
            }
            errno = EAGAIN;
        }
        if (k < 0) {
            if (done == 0)
                err = errno;
            break;
        }
        stop = err != 0 || k < (int)n;
        for (int i = 0; i < k; i++) {
            struct dg_rres res;
            if (bp->mm[i].msg_len < sizeof bp->hdr[i]) {
                /* EOF (SHUT_RD): as one receive, see dg_recv */
                if (done == 0) {
                    int fl = (f & MSG_DONTWAIT) ? O_NONBLOCK : fcntl(fd, F_GETFL);
                    unsigned int zero = 0;
                    if (fl >= 0 && (fl & O_NONBLOCK))
                        err = EAGAIN;
                    else if (rn_copy_out(&vec[done].msg_len, &zero, sizeof zero) < 0)
                        err = EFAULT;
                    else
                        done++;
                }
                stop = 1;
                break;
            }
            if (bp->hdr[i].flags & RN_DG_ERROR) {
                /* the host sends nothing after an error record until the error is taken */
                if (done > 0) {
                    rn_cache_flags(fd, s, F_DG_ERRPEND, 0);
                    s->info |= F_DG_ERRPEND;
                    stop = 1;
                } else if ((err = rn_dg_take_error(fd, s)) != 0) {
                    stop = 1;
                }
                break;
            }
            dg_res_set(&res, &bp->hdr[i], bp->mm[i].msg_hdr.msg_flags);
            int e = dg_recv_out(&vec[done].msg_hdr, &bp->um[i], &res);
            unsigned int len = bp->mm[i].msg_len - (unsigned int)sizeof bp->hdr[i];
            if (e == 0 && rn_copy_out(&vec[done].msg_len, &len, sizeof len) < 0)
                e = EFAULT;
            if (e) {
                err = e;
                stop = 1;
                break;
            }
            done++;
        }
        if (!stop && tmo != NULL && done < vlen) {
            struct timespec left; /* the kernel's remaining time after this batch */
            stop = rn_copy_in(&left, tmo, sizeof left) < 0 ||
                   (left.tv_sec == 0 && left.tv_nsec == 0);
        }
    }
    return done == 0 && err ? (errno = err, -1) : (int)done;
}

static int dg_mmsg(int fd, struct rn_sock *s, struct mmsghdr *vec, unsigned int vlen, int flags,
                   struct timespec *tmo, int send)
{
    int saved = errno, r;
    if (vlen > RN_DG_IOV_MAX)
        vlen = RN_DG_IOV_MAX; /* UIO_MAXIOV, as Linux */
    if (INFO_KIND(s->info) == RN_KIND_ALG || (!send && (flags & MSG_ERRQUEUE)))
        r = dg_mmsg_each(fd, s, vec, vlen, flags, send);
    else {
        /* the batch is 29 KiB: mapped, not on a stack that may be a handler's */
        struct dg_batch *bp = mmap(NULL, sizeof *bp, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (bp == MAP_FAILED) {
            errno = ENOMEM;
            r = -1;
        } else {
            r = send ? dg_sendmmsg(fd, s, vec, vlen, flags, bp)
                     : dg_recvmmsg(fd, s, vec, vlen, flags, tmo, bp);
            int e = errno;
            munmap(bp, sizeof *bp);
            errno = e;
        }
    }
    dg_trace(send ? "sendmmsg" : "recvmmsg", fd, (long)vlen, flags, (long)r, r < 0 ? errno : 0);
    if (r >= 0)
        errno = saved;
    return r;
}

RN_EXPORT int rn_recvmmsg(int, struct mmsghdr *, unsigned int, int, struct timespec *)
    __asm__("recvmmsg");
RN_EXPORT int rn_sendmmsg(int, struct mmsghdr *, unsigned int, int) __asm__("sendmmsg");
RN_EXPORT int rn_dup(int) __asm__("dup");
RN_EXPORT int rn_dup2(int, int) __asm__("dup2");
RN_EXPORT int rn_dup3(int, int, int) __asm__("dup3");

int rn_recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo)
{
    struct rn_sock s;
    if (rn_dg_hint(fd) && dg_confirm(fd, &s) > 0)
        return dg_mmsg(fd, &s, vec, vlen, flags, tmo, 0);
    return ((f_recvmmsg_t)rn_sym(&g_real_recvmmsg, "recvmmsg"))(fd, vec, vlen, flags, tmo);
}

int rn_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct rn_sock s;
    if (rn_dg_hint(fd) && dg_confirm(fd, &s) > 0)
        return dg_mmsg(fd, &s, vec, vlen, flags, NULL, 1);
    return ((f_sendmmsg_t)rn_sym(&g_real_sendmmsg, "sendmmsg"))(fd, vec, vlen, flags);
}

/* dup'd fds keep their cache entry (the new fd is the same socket); an unclassified
 * candidate stays a candidate. */
static void rn_dg_dup_cache(int oldfd, int newfd)
{
    if (!g_enabled || newfd < 0 || newfd >= RN_CACHE_N)
        return;
    if (oldfd >= 0 && oldfd < RN_CACHE_N) {
        uint64_t info = __atomic_load_n(&g_cache[oldfd].info, __ATOMIC_ACQUIRE);
        uint64_t ino = __atomic_load_n(&g_cache[oldfd].ino, __ATOMIC_ACQUIRE);
        if (INFO_STATE(info) == ST_SHIM || INFO_STATE(info) == ST_DG_CANDIDATE) {
            rn_cache_set(newfd, ino, info);
            return;
        }
    }
    __atomic_store_n(&g_cache[newfd].info, 0, __ATOMIC_RELEASE);
}

/* dup, dup2 (nfd >= 0) and dup3 (flags >= 0) of a shim fd, when tracing */
static void trace_dup(const char *call, int fd, int nfd, int flags, int r, int err)
{
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(r >= 0 ? r : fd, &s);
    errno = saved;
    if (c <= 0)
        return;
    struct tb t;
    tb_start(&t, call, fd);
    if (nfd >= 0)
        tb_add(&t, ", %d", nfd);
    if (flags >= 0)
        tb_add(&t, ", %s", flags & O_CLOEXEC ? "O_CLOEXEC" : "0");
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    tb_emit(&t);
}

int rn_dup(int fd)
{
    int r = ((f_dup_t)rn_sym(&g_real_dup, "dup"))(fd);
    if (r >= 0)
        rn_dg_dup_cache(fd, r);
    if (RN_UNLIKELY(g_trace_on))
        trace_dup("dup", fd, -1, -1, r, errno);
    return r;
}

int rn_dup2(int fd, int nfd)
{
    rn_defer_flush(fd); /* the copy may go to an exec'd program */
    int r = ((f_dup2_t)rn_sym(&g_real_dup2, "dup2"))(fd, nfd);
    if (r >= 0 && r != fd)
        rn_dg_dup_cache(fd, r);
    if (RN_UNLIKELY(g_trace_on))
        trace_dup("dup2", fd, nfd, -1, r, errno);
    return r;
}

int rn_dup3(int fd, int nfd, int flags)
{
    rn_defer_flush(fd);
    int r = ((f_dup3_t)rn_sym(&g_real_dup3, "dup3"))(fd, nfd, flags);
    if (r >= 0)
        rn_dg_dup_cache(fd, r);
    if (RN_UNLIKELY(g_trace_on))
        trace_dup("dup3", fd, nfd, flags, r, errno);
    return r;
}
