/* rpc.c - the control connection: made per process (adopted, dialled or connected,
 * then HELLO), one request and response per RPC under g_lock, options kept by defer.c
 * sent with them, and a fresh A from the host put on a program's fd number. */
#include "internal.h"

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

int rn_lock(void)
{
    if (rn_guard(&g_lock, RN_L_CTL) < 0) {
        errno = EINTR; /* re-entered from a signal handler */
        return -1;
    }
    return 0;
}

void rn_unlock(void)
{
    rn_unguard(&g_lock, RN_L_CTL);
}

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

/* The request's payload is pl[0..npl) (req->payload_len bytes in all).  -2 with errno
 * EFAULT: the kernel could not read a payload part (the program's memory, RN_RPC_USER),
 * so nothing was sent; -3: part of the request was sent short (qemu-user's sendmsg
 * makes an unreadable iovec after the first 0 bytes long where Linux fails with
 * EFAULT), so the host holds a truncated request; -1: a transport failure. */
static int rn_xfer(int fd, const struct rn_req *req, const struct iovec *pl, int npl, int sfd,
                   struct rn_resp *resp, void *rbuf, size_t rcap, int *rfd, int cloexec)
{
    struct iovec iov[3] = {{(void *)req, sizeof *req}};
    int k = 1;
    for (int i = 0; i < npl && k < 3; i++)
        if (pl[i].iov_len > 0)
            iov[k++] = pl[i];
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t)k;
    union rn_fd_cmsg sc;
    if (sfd >= 0) /* one fd for the host with the request */
        rn_put_fd(&mh, &sc, sfd);
    ssize_t n;
    do
        n = REAL(sendmsg)(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EFAULT ? -2 : -1;
    if ((size_t)n != sizeof *req + req->payload_len) {
        errno = EPROTO;
        return (size_t)n < sizeof *req + req->payload_len ? -3 : -1;
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

/* The program closed or replaced fd numbers lo..hi (close, dup2, dup3, close_range,
 * closefrom; their interposers call this before the kernel's call): if the control
 * connection's number is among them, the next RPC checks that fd is still it.  These
 * calls are the only ways a process changes what an open fd number refers to, and the
 * connection's number is private (high, made here), so glibc never closes it on its
 * own; so an RPC needs no fstat of its own connection.  Async-signal-safe. */
void rn_ctl_touch(int lo, int hi)
{
    int c = __atomic_load_n(&g_ctl_fd, __ATOMIC_RELAXED);
    if (c >= 0 && c >= lo && c <= hi)
        __atomic_store_n(&g_ctl_touched, 1, __ATOMIC_RELEASE);
}

/* Make sure this process has a live control connection (lock held). */
static int rn_ensure_ctl(void)
{
    /* No identity check beyond the pid: a process that changed its uids keeps its
     * connection, since the host takes every request's sender from the kernel
     * (SCM_CREDENTIALS, then /proc/<pid>/status), never from the connection. */
    pid_t me = rn_getpid();
    if (g_ctl_fd >= 0 && g_ctl_pid != me) { /* forked: that one is the parent's */
        if (!g_ctl_adopted)
            rn_drop_ctl();
        g_ctl_fd = -1;
    }
    if (g_ctl_fd >= 0 && __atomic_exchange_n(&g_ctl_touched, 0, __ATOMIC_ACQ_REL) &&
        rn_fd_ino(g_ctl_fd) != g_ctl_ino)
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
    __atomic_store_n(&g_ctl_touched, 0, __ATOMIC_RELEASE);
    g_ctl_adopted = adopted;

    struct rn_req req;
    memset(&req, 0, sizeof req);
    req.op = RN_OP_HELLO;
    req.arg[0] = me;
    req.arg[1] = RN_PROTO_VERSION;
    struct rn_resp resp;
    char nonce[RN_MAX_PAYLOAD];
    if (rn_xfer(fd, &req, NULL, 0, -1, &resp, nonce, sizeof nonce, NULL, 1) < 0 || resp.ret <= 0 ||
        resp.payload_len < RN_NONCE_LEN) {
        int e = errno;
        if (e == 0 || resp.ret <= 0)
            e = EPROTO;
        rn_drop_ctl();
        rn_report(e);
        errno = ENETDOWN;
        return -1;
    }
    g_keep_opts = resp.arg[0];
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

/* Options kept for sock_id go to the host with req (lock held, connection made): for
 * bind/listen/connect as the payload's second part (*pl[1], kept: room), else as one
 * RN_OP_SETOPTS first.  *taken: their count, forgotten (rn_defer_drop) once the call
 * carrying them is sent.  0, or -1 with errno on a transport failure. */
static int rn_defer_send(struct rn_req *req, struct iovec *pl, struct rn_setopt *room,
                         uint32_t *taken)
{
    uint32_t n = rn_defer_peek(req->sock_id, room);
    *taken = 0;
    if (n == 0)
        return 0;
    size_t olen = n * sizeof room[0];
    if ((req->op == RN_OP_BIND || req->op == RN_OP_LISTEN || req->op == RN_OP_CONNECT) &&
        pl[0].iov_len + olen <= RN_MAX_PAYLOAD) {
        pl[1].iov_base = room;
        pl[1].iov_len = olen;
        req->payload_len = (uint32_t)(pl[0].iov_len + olen);
        req->arg[3] = n;
        *taken = n;
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
    struct iovec opl = {room, olen};
    rn_defer_drop(req->sock_id);
    return rn_xfer(g_ctl_fd, &sreq, &opl, 1, -1, &sresp, NULL, 0, NULL, 0) < 0 ? -1 : 0;
}

/* A control RPC.  Returns 0 with resp filled, or -1 (errno ENETDOWN or EINTR). */
/* rn_rpc that also hands the host sfd (-1: none) with the request */
int rn_rpc_fd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2,
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
    struct rn_setopt room[RN_DEFER_MAX];
    struct iovec pl[2] = {{(void *)payload, plen}, {NULL, 0}};
    uint32_t taken = 0;
    if (r == 0 && sock_id != 0 && g_defer_used > 0)
        r = rn_defer_send(&req, pl, room, &taken);
    if (r == 0) {
        r = rn_xfer(g_ctl_fd, &req, pl, 2, sfd, resp, rbuf, rcap, rfd,
                    cloexec & ~RN_RPC_USER);
        if (r == -2 && (cloexec & RN_RPC_USER)) {
            r = -1; /* the program's payload is unreadable: its EFAULT, nothing sent */
        } else if (r == -3 && (cloexec & RN_RPC_USER)) {
            rn_drop_ctl(); /* the host's answer to the truncated request is never read */
            errno = EFAULT;
            r = -1;
        } else if (r < 0) {
            int e = errno;
            rn_drop_ctl();
            rn_report(e);
            errno = ENETDOWN;
            r = -1;
        } else if (taken) {
            rn_defer_drop(sock_id);
        }
    }
    rn_unlock();
    return r;
}

int rn_rpc(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2, int64_t a3,
                  const void *payload, size_t plen, struct rn_resp *resp, void *rbuf,
                  size_t rcap, int *rfd, int cloexec)
{
    return rn_rpc_fd(op, sock_id, a0, a1, a2, a3, payload, plen, -1, resp, rbuf, rcap, rfd,
                     cloexec);
}

/* The program hands a socket on (dup2/dup3 before an exec, sendmsg with SCM_RIGHTS):
 * the options kept for it (fd >= 0), or for every socket (fd < 0), go to the host now. */
void rn_defer_flush(int fd)
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
            struct rn_setopt room[RN_DEFER_MAX];
            struct iovec pl[2] = {{NULL, 0}, {NULL, 0}};
            uint32_t taken;
            if (rn_defer_send(&req, pl, room, &taken) < 0) {
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
int rn_host_identity(char *nonce, pid_t *pid)
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

/* Put the host's socket nfd on fd's number (closing nfd), keeping fd's FD_CLOEXEC and
 * O_NONBLOCK (fl: fd's F_GETFL if the caller just read it, else -1; ino: nfd's inode
 * if the host said it, else 0).  0 with s updated, -1 with errno. */
int rn_install(int fd, struct rn_sock *s, int nfd, uint32_t id, int kind, int fl,
               uint64_t ino)
{
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0)
        fl = fcntl(fd, F_GETFL);
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
    /* a wrong ino from the host only costs a slow classify later */
    s->ino = ino ? (ino_t)ino : fstat(fd, &st) == 0 ? st.st_ino : 0;
    s->info = rn_mkinfo(ST_SHIM, id, kind, 0);
    rn_cache_set(fd, s->ino, s->info);
    rn_epint_carry(fd);
    return 0;
}

/* An RPC whose success hands over an fd (close-on-exec): the fd, resp filled; or -1
 * with errno (the host's error, or EPROTO if it sent no fd). */
int rn_rpc_getfd(uint32_t op, uint32_t sock_id, int64_t a0, int64_t a1, int64_t a2,
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
int rn_reopen(int fd, struct rn_sock *s)
{
    struct rn_resp resp;
    int nfd = rn_rpc_getfd(RN_OP_REOPEN, INFO_ID(s->info), 0, 0, 0, NULL, 0, &resp);
    if (nfd < 0)
        return -1;
    return rn_install(fd, s, nfd, (uint32_t)resp.ret, (int)resp.arg[0], -1, 0);
}

/* rn_rpc for socket fd: when the host answers RN_ERR_REOPEN, swap A and retry once. */
int rn_sock_rpc(int fd, struct rn_sock *s, uint32_t op, int64_t a0, int64_t a1,
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
long rn_result(const struct rn_resp *resp)
{
    if (resp->ret < 0) {
        errno = resp->err > 0 ? resp->err : EIO;
        return -1;
    }
    return (long)resp->ret;
}

