/* unix.c - AF_UNIX SOCK_STREAM / SOCK_SEQPACKET sockets of the stack (shim/unix.py).
 * Data calls on these fds are the kernel's (a connected socket is
 * one end of a pair whose other end is the peer program's fd); here: the calls that
 * name things.  A filesystem name is resolved in the caller's process, so the path
 * walk, umask, permissions and errnos are the kernel's own:
 * - bind: a placeholder kernel socket binds the path (creating the node as Linux
 *   does), then is closed: the node stays, and a program outside the stack connecting
 *   to it gets ECONNREFUSED, as for any socket node nobody is bound to.  The host keys
 *   the stack's socket by the node's (st_dev, st_ino).
 * - connect: a throwaway kernel socket of the same type connects first.  ECONNREFUSED
 *   means "no kernel listener there": the host looks the node up.  Any other error is
 *   the answer.  Success means a kernel (non-stack) program listens there: that
 *   connection becomes the program's fd, so shimmed programs still reach the
 *   machine's daemons. */
#include "internal.h"

/* An AF_UNIX stack fd: recvfrom/recvmsg then fix the sender's name.  One load once the
 * fd is classified (an fd never seen, e.g. inherited across exec, is classified once). */
int unix_hint(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
    if (INFO_STATE(i) == 0) {
        int saved = errno;
        struct rn_sock s;
        int c = rn_classify(fd, &s);
        errno = saved;
        return c > 0 && INFO_KIND(s.info) == RN_KIND_UNIX;
    }
    return INFO_KIND(i) == RN_KIND_UNIX;
}

/* A send on a listening AF_UNIX socket: Linux has no peer to send to (ENOTCONN); a
 * stream socket refuses a 0-byte MSG_OOB or an address first (EOPNOTSUPP).  Its A,
 * whose peer the host holds, would take the bytes or block.  1 with errno set if fd
 * is one, else 0. */
int unix_listener_send(int fd, size_t n, int flags, int named)
{
    if (!g_enabled || fd < 0 || fd >= RN_CACHE_N)
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
    if (!(i & F_LISTENER) || INFO_STATE(i) != ST_SHIM ||
        INFO_KIND(i) != RN_KIND_UNIX)
        return 0;
    int type = SOCK_STREAM;
    socklen_t tl = sizeof type;
    REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    errno = type == SOCK_STREAM && (named || ((flags & MSG_OOB) && n == 0)) ? EOPNOTSUPP
                                                                           : ENOTCONN;
    return 1;
}

static int unix_is_path(const unsigned char *sa, socklen_t len)
{
    sa_family_t fam;
    memcpy(&fam, sa, sizeof fam);
    return len > UNIX_PATH_OFF && fam == AF_UNIX && sa[UNIX_PATH_OFF] != 0;
}

/* The path of a sockaddr_un as the kernel reads it (at most sun_path, NUL-terminated). */
static void unix_path(const unsigned char *sa, socklen_t len, char *out)
{
    size_t n = len - UNIX_PATH_OFF;
    if (n > sizeof(((struct sockaddr_un *)0)->sun_path))
        n = sizeof(((struct sockaddr_un *)0)->sun_path);
    memcpy(out, sa + UNIX_PATH_OFF, n);
    out[n] = 0;
}

/* The socket node a path names, opened O_PATH: the kernel gives it only after walking
 * the path with this process's rights, so the host takes the node (its key for a stack
 * socket bound there) from this fd, never from a number the caller names.  No socket
 * node there (no kernel listener answered either): ECONNREFUSED.  -> the fd, or -1. */
static int unix_node(const unsigned char *sa, socklen_t len, int *err)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    unix_path(sa, len, path);
    struct stat st;
    int nfd = open(path, O_PATH | O_CLOEXEC);
    if (nfd < 0 || fstat(nfd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        *err = nfd < 0 && errno != ENOENT ? errno : ECONNREFUSED;
        if (nfd >= 0)
            REAL(close)(nfd);
        return -1;
    }
    return nfd;
}

int unix_type(int fd)
{
    int type = SOCK_STREAM;
    socklen_t tl = sizeof type;
    REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    return type;
}

/* Put the host's new kernel socket nfd on fd (listen: the listener's A; connect: the
 * connected end), keeping the options a program sets before on the fd itself. */
int unix_install(int fd, struct rn_sock *s, int nfd, uint32_t id)
{
    static const int opts[] = {SO_PASSCRED, SO_PASSSEC, SO_RCVTIMEO, SO_SNDTIMEO};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        struct timeval v;
        socklen_t l = sizeof v;
        memset(&v, 0, sizeof v);
        if (REAL(getsockopt)(fd, SOL_SOCKET, opts[i], &v, &l) == 0)
            REAL(setsockopt)(nfd, SOL_SOCKET, opts[i], &v, l);
    }
    return rn_install(fd, s, nfd, id, RN_KIND_UNIX, -1, 0);
}

/* bind: 0, or -1 with *err. */
int unix_bind(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len, int *err)
{
    struct rn_resp resp;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    int64_t a0 = 0;
    int node = -1;
    if (unix_is_path(sa, len)) {
        int t = REAL(socket)(AF_UNIX, unix_type(fd) | SOCK_CLOEXEC, 0);
        if (t < 0 || REAL(bind)(t, (const struct sockaddr *)sa, len) < 0) {
            *err = errno;
            if (t >= 0)
                REAL(close)(t);
            return -1;
        }
        REAL(close)(t);
        unix_path(sa, len, path);
        if ((node = unix_node(sa, len, err)) < 0)
            return -1;
        a0 = 1;
    }
    int r = rn_rpc_fd(RN_OP_BIND, INFO_ID(s->info), a0, 0, 0, 0, sa, len, node, &resp, NULL, 0,
                      NULL, 0);
    if (node >= 0)
        REAL(close)(node);
    if (r < 0) {
        *err = errno;
        return -1;
    }
    if (resp.ret < 0) {
        if (a0)
            unlink(path); /* Linux removes the node it made for a socket already bound */
        *err = resp.err > 0 ? resp.err : EIO;
        return -1;
    }
    if (!a0 && len > sizeof(sa_family_t))
        rn_ll_witness(fd, sa, len); /* an abstract name: its Landlock witness (landlock.c) */
    return 0;
}

static int unix_connect_rpc(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len,
                            int64_t a0, int node, int nb, int cloexec, int *err);

/* connect: 0, or -1 with *err. */
int unix_connect(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len,
                        int *err)
{
    int fl = fcntl(fd, F_GETFL);
    int nb = fl >= 0 && (fl & O_NONBLOCK);
    int fdfl = fcntl(fd, F_GETFD);
    int cloexec = fdfl >= 0 && (fdfl & FD_CLOEXEC);
    int64_t a0 = 0;
    int node = -1;
    if (!unix_is_path(sa, len) && len > sizeof(sa_family_t) &&
        (*err = rn_ll_abstract(unix_type(fd), sa, len)) != 0)
        return -1; /* Landlock abstract-unix scoping (landlock.c) */
    if (unix_is_path(sa, len)) {
        int t = REAL(socket)(AF_UNIX, unix_type(fd) | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0), 0);
        if (t < 0) {
            *err = errno;
            return -1;
        }
        if (REAL(connect)(t, (const struct sockaddr *)sa, len) == 0) {
            /* a kernel listener: this connection is the program's socket from now on */
            if (dup3(t, fd, cloexec ? O_CLOEXEC : 0) < 0) {
                *err = errno;
                REAL(close)(t);
                return -1;
            }
            REAL(close)(t);
            struct stat st;
            if (fstat(fd, &st) == 0)
                rn_cache_set(fd, st.st_ino, rn_mkinfo(ST_NOT, 0, 0, 0));
            return 0;
        }
        int e = errno;
        REAL(close)(t);
        if (e != ECONNREFUSED) {
            *err = e;
            return -1;
        }
        if ((node = unix_node(sa, len, err)) < 0)
            return -1;
        a0 = 1;
    }
    int r = unix_connect_rpc(fd, s, sa, len, a0, node, nb, cloexec, err);
    if (node >= 0)
        REAL(close)(node);
    return r;
}

/* The RN_OP_CONNECT of unix_connect (node: the O_PATH fd of a path's socket node). */
static int unix_connect_rpc(int fd, struct rn_sock *s, const unsigned char *sa, socklen_t len,
                            int64_t a0, int node, int nb, int cloexec, int *err)
{
    int pc = 0; /* SO_PASSCRED: Linux autobinds an unnamed socket when it connects */
    socklen_t pcl = sizeof pc;
    if (REAL(getsockopt)(fd, SOL_SOCKET, SO_PASSCRED, &pc, &pcl) == 0 && pc)
        a0 |= 2;
    /* A full backlog: a blocking connect waits (SO_SNDTIMEO bounds it: EAGAIN). */
    long long left = -1;
    struct timeval tv;
    socklen_t tl = sizeof tv;
    if (!nb && REAL(getsockopt)(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &tl) == 0 &&
        (tv.tv_sec > 0 || tv.tv_usec > 0))
        left = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
    for (;;) {
        struct rn_resp resp;
        int nfd = -1;
        if (rn_rpc_fd(RN_OP_CONNECT, INFO_ID(s->info), a0, 0, 0, nb, sa, len, node, &resp, NULL,
                      0, &nfd, cloexec) < 0) {
            *err = errno;
            return -1;
        }
        if (resp.ret >= 0 && nfd >= 0) {
            if (unix_install(fd, s, nfd, (uint32_t)resp.ret) < 0) {
                *err = errno;
                return -1;
            }
            return 0;
        }
        if (nfd >= 0)
            REAL(close)(nfd);
        *err = resp.ret < 0 && resp.err > 0 ? resp.err : EPROTO;
        if (*err != EAGAIN || resp.arg[0] != 1 || left == 0)
            return -1;
        struct timespec ts = {0, 2000000};
        if (left > 0)
            left = left > 2000 ? left - 2000 : 0;
        if (nanosleep(&ts, NULL) < 0) {
            *err = EINTR;
            return -1;
        }
    }
}

/* recvfrom/recvmsg on a connected stack socket name the sender by its kernel identity
 * ("\0rocketnet-<nonce>-u<id>"): replace it with the sender's stack address, as Linux
 * would report it (nothing for an unnamed sender).  ucap is the caller's buffer size. */
void unix_fix_name(void *uaddr, socklen_t *ulen, socklen_t ucap)
{
    const size_t plen = sizeof(RN_NAME_PREFIX) - 1;
    unsigned char a[sizeof(struct sockaddr_un)];
    socklen_t got;
    if (uaddr == NULL || rn_copy_in(&got, ulen, sizeof got) < 0 ||
        got <= UNIX_PATH_OFF + 1 + plen + RN_NONCE_LEN + 2 || got > sizeof a ||
        ucap < got || rn_copy_in(a, uaddr, got) < 0)
        return;
    sa_family_t fam;
    memcpy(&fam, a, sizeof fam);
    const unsigned char *p = a + UNIX_PATH_OFF + 1;
    if (fam != AF_UNIX || a[UNIX_PATH_OFF] != 0 || memcmp(p, RN_NAME_PREFIX, plen) != 0 ||
        memcmp(p + plen, g_nonce, RN_NONCE_LEN) != 0 || p[plen + RN_NONCE_LEN] != '-' ||
        p[plen + RN_NONCE_LEN + 1] != 'u')
        return;
    uint64_t id = 0;
    for (const unsigned char *q = p + plen + RN_NONCE_LEN + 2; q < a + got; q++) {
        if (*q < '0' || *q > '9' || id > UINT32_MAX)
            return;
        id = id * 10 + (uint64_t)(*q - '0');
    }
    int saved = errno;
    struct rn_resp resp;
    unsigned char ka[RN_MAX_PAYLOAD];
    if (rn_rpc(RN_OP_GETSOCKNAME, (uint32_t)id, 0, 0, 0, 0, NULL, 0, &resp, ka, sizeof ka,
               NULL, 0) == 0 && resp.ret >= 0) {
        /* an unnamed sender: no address at all (msg_namelen 0), as unix_copy_addr */
        socklen_t kl = resp.payload_len > UNIX_PATH_OFF ? resp.payload_len : 0;
        rn_copy_out(uaddr, ka, kl < ucap ? kl : ucap);
        rn_copy_out(ulen, &kl, sizeof kl);
    }
    errno = saved;
}

/* socketpair(AF_UNIX, SOCK_STREAM / SOCK_SEQPACKET / SOCK_DGRAM): the host makes the
 * pair, names both ends and answers for them (unnamed, SO_PEERCRED = the caller's, bind
 * later into the stack's names); two RPCs, one end each.  Other families: the kernel's. */
int unix_socketpair(int domain, int type, int protocol, int *sv)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!g_enabled || domain != AF_UNIX ||
        (base != SOCK_STREAM && base != SOCK_SEQPACKET && base != SOCK_DGRAM)) {
        int r = REAL(socketpair)(domain, type, protocol, sv);
        if (r == 0) { /* the kernel has just written sv */
            rn_fd_fresh(sv[0]);
            rn_fd_fresh(sv[1]);
        }
        return r;
    }
    int saved = errno, err = 0, r = -1, fds[2] = {-1, -1};
    int cloexec = (type & SOCK_CLOEXEC) != 0;
    uint32_t ids[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        struct rn_resp resp;
        if (rn_rpc(RN_OP_UNIX_PAIR, ids[1], base, protocol, 0, 0, NULL, 0, &resp, NULL, 0,
                   &fds[i], cloexec) < 0) {
            err = errno;
            goto out;
        }
        if (resp.ret < 0 || fds[i] < 0) {
            err = resp.ret < 0 && resp.err > 0 ? resp.err : EPROTO;
            if (i == 0 && fds[0] < 0) {
                /* Linux stores the two fd numbers it reserved before it creates the
                 * sockets, so a failure leaves them in sv (or fails with EFAULT) */
                int k[2] = {fcntl(0, F_DUPFD, 0), -1};
                k[1] = k[0] < 0 ? -1 : fcntl(0, F_DUPFD, 0);
                if (k[1] >= 0 && rn_copy_out(sv, k, sizeof k) < 0)
                    err = EFAULT;
                for (int j = 0; j < 2; j++)
                    if (k[j] >= 0)
                        REAL(close)(k[j]);
            }
            goto out;
        }
        ids[i] = (uint32_t)resp.ret;
        if (i == 0)
            ids[1] = (uint32_t)resp.arg[0]; /* the second RPC fetches this end */
    }
    for (int i = 0; i < 2; i++) {
        if (type & SOCK_NONBLOCK) {
            int fl = fcntl(fds[i], F_GETFL);
            fcntl(fds[i], F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
        }
        struct stat st;
        if (fstat(fds[i], &st) == 0)
            rn_cache_set(fds[i], st.st_ino, rn_mkinfo(ST_SHIM, ids[i], RN_KIND_UNIX, 0));
    }
    if (rn_copy_out(sv, fds, sizeof fds) < 0) {
        err = EFAULT; /* Linux: the pair is made, then storing the fds fails */
        goto out;
    }
    r = 0;
out:
    if (r < 0) {
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                REAL(close)(fds[i]);
    }
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "socketpair", INT_MIN);
        tb_add(&t, "AF_UNIX, ");
        tb_stype(&t, type);
        tb_add(&t, ", %d, ", protocol);
        if (r == 0)
            tb_add(&t, "[%d, %d])", fds[0], fds[1]);
        else {
            tb_ptr(&t, (void *)sv);
            tb_add(&t, ")");
        }
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r;
}

/* ------------------------------------------------------------------------ */
/* SOCK_DGRAM: every stack datagram socket is a kernel socket bound to its identity name,
 * so a datagram to a stack name goes natively to the identity of the socket holding it
 * (the host resolves the name: RN_OP_UNIX_RESOLVE).  The kernel then does the rest as
 * Linux would for the name: queue limits and EAGAIN, EPERM from a socket connected
 * elsewhere, ECONNREFUSED once the receiver is gone, SCM_RIGHTS/SCM_CREDENTIALS; the
 * receiver's recvfrom names the sender by its identity, which unix_fix_name turns into
 * the sender's stack name. */

int unix_is_dgram(int fd) { return unix_type(fd) == SOCK_DGRAM; }

/* The native destination for the stack address sa: the identity of the socket bound to
 * it, or sa itself where a kernel (non-stack) socket is bound at the path.  0 or -1
 * with *err. */
static int unix_resolve(int fd, const struct rn_sock *s, const unsigned char *sa,
                        socklen_t len, struct sockaddr_un *out, socklen_t *olen, int *err)
{
    int64_t a0 = 0;
    int node = -1;
    if (unix_is_path(sa, len)) {
        if (len > sizeof *out) {
            *err = EINVAL;
            return -1;
        }
        int t = REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (t < 0) {
            *err = errno;
            return -1;
        }
        int c = REAL(connect)(t, (const struct sockaddr *)sa, len);
        int e = errno;
        REAL(close)(t);
        if (c == 0) {
            memcpy(out, sa, len);
            *olen = len;
            return 0;
        }
        if (e != ECONNREFUSED) {
            *err = e;
            return -1;
        }
        if ((node = unix_node(sa, len, err)) < 0)
            return -1;
        a0 = 1;
    }
    int pc = 0; /* SO_PASSCRED: Linux autobinds an unnamed sender */
    socklen_t pcl = sizeof pc;
    if (REAL(getsockopt)(fd, SOL_SOCKET, SO_PASSCRED, &pc, &pcl) == 0 && pc)
        a0 |= 2;
    struct rn_resp resp;
    int r = rn_rpc_fd(RN_OP_UNIX_RESOLVE, INFO_ID(s->info), a0, 0, 0, 0, sa, len, node, &resp,
                      NULL, 0, NULL, 0);
    if (node >= 0)
        REAL(close)(node);
    if (r < 0) {
        *err = errno;
        return -1;
    }
    if (resp.ret < 0) {
        *err = resp.err > 0 ? resp.err : EIO;
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->sun_family = AF_UNIX;
    int n = snprintf(out->sun_path + 1, sizeof out->sun_path - 1, "%s%.*s-u%lld",
                     RN_NAME_PREFIX, RN_NONCE_LEN, g_nonce, (long long)resp.ret);
    *olen = (socklen_t)(UNIX_PATH_OFF + 1 + (size_t)n);
    return 0;
}

/* connect on a datagram socket: the kernel connects fd to the resolved socket. */
int unix_dgram_connect(int fd, const struct rn_sock *s, const unsigned char *sa,
                              socklen_t len, int *err)
{
    sa_family_t fam;
    memcpy(&fam, sa, sizeof fam);
    if (len >= sizeof fam && fam == AF_UNSPEC) { /* disconnect */
        if (REAL(connect)(fd, (const struct sockaddr *)sa, len) < 0) {
            *err = errno;
            return -1;
        }
        return 0;
    }
    struct sockaddr_un to;
    socklen_t tl;
    if (unix_resolve(fd, s, sa, len, &to, &tl, err) < 0)
        return -1;
    if (REAL(connect)(fd, (const struct sockaddr *)&to, tl) < 0) {
        *err = errno;
        return -1;
    }
    return 0;
}

/* sendto/sendmsg with an address on a stack datagram socket: to the resolved socket.
 * -2: not a datagram socket (the caller sends as is). */
ssize_t unix_dgram_sendmsg(int fd, const struct rn_sock *s, const struct msghdr *m,
                                  int flags)
{
    if (!unix_is_dgram(fd))
        return -2;
    unsigned char sa[sizeof(struct sockaddr_storage)];
    if ((int)m->msg_namelen < 0 || m->msg_namelen > sizeof sa) {
        errno = EINVAL;
        return -1;
    }
    if (rn_copy_in(sa, m->msg_name, m->msg_namelen) < 0) {
        errno = EFAULT;
        return -1;
    }
    struct sockaddr_un to;
    socklen_t tl;
    int err;
    if (unix_resolve(fd, s, sa, m->msg_namelen, &to, &tl, &err) < 0) {
        errno = err;
        return -1;
    }
    struct msghdr mm = *m;
    mm.msg_name = &to;
    mm.msg_namelen = tl;
    return REAL(sendmsg)(fd, &mm, flags);
}

/* getpeername of a datagram socket: the kernel's peer, by its stack name. */
int unix_dgram_peername(int fd, unsigned char *ka, size_t *klen)
{
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    if (REAL(getpeername)(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    memcpy(ka, &a, l);
    *klen = l;
    socklen_t fixed = l;
    unix_fix_name(ka, &fixed, (socklen_t)sizeof a);
    *klen = fixed;
    if (fixed == 0) { /* an unnamed peer (a socketpair's): the family alone */
        sa_family_t fam = AF_UNIX;
        memcpy(ka, &fam, sizeof fam);
        *klen = sizeof fam;
    }
    return 0;
}
