/* alg.c - AF_ALG shim sockets (the kernel crypto API).
 *
 * Transform and operation sockets are RN_KIND_ALG: the A end of a SOCK_SEQPACKET
 * pair, served by shim/alg.py.  The datagram interposers (dgram.c) route these fds
 * here, so every read/recv/send variant is wrapped as for UDP:
 * - send: the program's SOL_ALG control messages are parsed as af_alg_cmsg_send
 *   does (EINVAL for malformed ones), then the input goes on A as messages of
 *   struct rn_alg_hdr + at most RN_ALG_CHUNK bytes, each followed by an
 *   RN_OP_ALG_SEND RPC so that errors (ENOKEY, EINVAL, ...) are the call's own.
 * - receive: RN_OP_ALG_RECV runs the request in the host, which queues the result
 *   on S; the stub reads it natively from A into the program's buffers (so EFAULT,
 *   MSG_TRUNC and blocking are the kernel's own).  One-byte messages are readiness
 *   markers (POLLIN as af_alg_poll gives it) and are skipped.
 * Keys and data are never traced: the tracer prints lengths only.
 */
#include "internal.h"

#define RN_ALG_CHUNK (64 * 1024)
#define RN_ALG_CTL_MAX 20480 /* sysctl optmem_max: larger control buffers are ENOBUFS */

/* Queue a filler of `size` bytes on A when the host asks for one (rn_protocol.h):
 * the A end of a hash, rng or transform socket then never polls writable. */
static void alg_fill(int fd, const struct rn_resp *resp)
{
    static const unsigned char zeros[4096];
    struct rn_alg_hdr h;
    struct iovec v[64];
    size_t n = 1, left = resp->arg[1] > (int64_t)sizeof h ? (size_t)resp->arg[1] - sizeof h : 0;
    if (resp->arg[1] <= 0)
        return;
    memset(&h, 0, sizeof h);
    h.magic = RN_ALG_MAGIC;
    h.flags = RN_ALG_FILL;
    v[0].iov_base = &h;
    v[0].iov_len = sizeof h;
    for (; left && n < sizeof v / sizeof v[0]; n++) {
        v[n].iov_base = (void *)zeros;
        v[n].iov_len = left < sizeof zeros ? left : sizeof zeros;
        left -= v[n].iov_len;
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = v;
    m.msg_iovlen = n;
    /* best effort: without it the socket only polls writable, as before */
    (void)REAL(sendmsg)(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int alg_nonblocking(int fd, int flags)
{
    if (flags & MSG_DONTWAIT)
        return 1;
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* The program's control buffer -> h (0, or an errno as sendmsg gives it). */
static int alg_parse_ctl(const void *uctl, size_t clen, struct rn_alg_hdr *h)
{
    if (clen == 0)
        return 0;
    if (clen > RN_ALG_CTL_MAX)
        return ENOBUFS;
    unsigned char *buf = malloc(clen);
    if (buf == NULL)
        return ENOBUFS;
    int e = 0;
    if (uctl == NULL || rn_copy_in(buf, uctl, clen) < 0) {
        e = EFAULT;
        goto done;
    }
    h->flags |= RN_ALG_CTL;
    size_t off = 0;
    while (off + sizeof(struct cmsghdr) <= clen) {
        struct cmsghdr c;
        memcpy(&c, buf + off, sizeof c);
        if (c.cmsg_len < sizeof(struct cmsghdr) || c.cmsg_len > clen - off) {
            e = EINVAL;
            goto done;
        }
        const unsigned char *data = buf + off + CMSG_LEN(0);
        if (c.cmsg_level == SOL_ALG) {
            uint32_t v;
            switch (c.cmsg_type) {
            case ALG_SET_IV:
                if (c.cmsg_len < CMSG_LEN(sizeof v)) {
                    e = EINVAL;
                    goto done;
                }
                memcpy(&v, data, sizeof v);
                if ((uint64_t)c.cmsg_len < (uint64_t)CMSG_LEN(0) + sizeof v + v) {
                    e = EINVAL;
                    goto done;
                }
                h->flags |= RN_ALG_IV;
                h->ivlen = v;
                memcpy(h->iv, data + sizeof v, v < RN_ALG_IV_MAX ? v : RN_ALG_IV_MAX);
                break;
            case ALG_SET_OP:
            case ALG_SET_AEAD_ASSOCLEN:
                if (c.cmsg_len < CMSG_LEN(sizeof v)) {
                    e = EINVAL;
                    goto done;
                }
                memcpy(&v, data, sizeof v);
                if (c.cmsg_type == ALG_SET_OP)
                    h->op = v;
                else
                    h->assoclen = v;
                break;
            default:
                e = EINVAL;
                goto done;
            }
        }
        size_t adv = CMSG_ALIGN(c.cmsg_len);
        if (adv == 0 || adv > clen - off)
            break;
        off += adv;
    }
done:
    free(buf);
    return e;
}

static ssize_t alg_send_iov(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                            int flags, const void *uctl, size_t clen, int *err, struct iovec *iov,
                            struct iovec *civ)
{
    if ((*err = dg_iov_in(iov, uiov, iovcnt)) != 0)
        return -1;
    size_t total;
    if ((*err = dg_iov_total(iov, iovcnt, &total)) != 0)
        return -1;
    struct rn_alg_hdr h;
    memset(&h, 0, sizeof h);
    h.magic = RN_ALG_MAGIC;
    int e = alg_parse_ctl(uctl, clen, &h);
    if (e) {
        *err = e;
        return -1;
    }
    size_t sent = 0, idx = 1, off = 0;
    do {
        size_t cn = 1, part = 0;
        civ[0].iov_base = &h;
        civ[0].iov_len = sizeof h;
        while (idx <= iovcnt && part < RN_ALG_CHUNK) {
            size_t take = iov[idx].iov_len - off;
            if (take > RN_ALG_CHUNK - part)
                take = RN_ALG_CHUNK - part;
            if (take) {
                civ[cn].iov_base = (char *)iov[idx].iov_base + off;
                civ[cn].iov_len = take;
                cn++;
            }
            off += take;
            part += take;
            if (off == iov[idx].iov_len) {
                idx++;
                off = 0;
            }
        }
        int last = sent + part == total;
        h.flags &= ~(uint32_t)RN_ALG_MORE;
        if (!last || (flags & MSG_MORE))
            h.flags |= RN_ALG_MORE;
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = civ;
        m.msg_iovlen = cn;
        ssize_t r = REAL(sendmsg)(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0) {
            e = errno == EAGAIN ? ENOBUFS : errno;
            break;
        }
        struct rn_resp resp;
        if (rn_rpc(RN_OP_ALG_SEND, INFO_ID(s->info), 0, 0, 0, 0, NULL, 0, &resp, NULL, 0, NULL,
                   0) < 0) {
            e = errno;
            break;
        }
        alg_fill(fd, &resp);
        if (rn_result(&resp) < 0) {
            e = errno;
            break;
        }
        sent += part;
        h.flags &= ~(uint32_t)(RN_ALG_CTL | RN_ALG_IV);
    } while (sent < total);
    if (e && sent == 0) {
        *err = e;
        return -1;
    }
    return (ssize_t)sent;
}

ssize_t alg_send(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, const void *uctl, size_t clen, int *err)
{
    struct rn_iovbuf b1, b2;
    struct iovec *iov = rn_iov_get(&b1, iovcnt + 1), *civ = rn_iov_get(&b2, iovcnt + 1);
    ssize_t r = -1;
    if (iov == NULL || civ == NULL)
        *err = ENOMEM;
    else
        r = alg_send_iov(fd, s, uiov, iovcnt, flags, uctl, clen, err, iov, civ);
    if (iov != NULL)
        rn_iov_put(&b1, iov);
    if (civ != NULL)
        rn_iov_put(&b2, civ);
    return r;
}

static ssize_t alg_recv_iov(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                            int flags, struct dg_rres *res, int *err, struct iovec *iov)
{
    if ((*err = dg_iov_in(iov, uiov, iovcnt)) != 0)
        return -1;
    size_t total;
    if ((*err = dg_iov_total(iov, iovcnt, &total)) != 0)
        return -1;
    res->msg_flags = 0;
    res->addrlen = 0;
    res->hflags = 0;
    struct rn_resp resp;
    if (rn_rpc(RN_OP_ALG_RECV, INFO_ID(s->info), (int64_t)total, alg_nonblocking(fd, flags), 0, 0,
               NULL, 0, &resp, NULL, 0, NULL, 0) < 0) {
        *err = errno;
        return -1;
    }
    alg_fill(fd, &resp);
    if (rn_result(&resp) < 0) {
        *err = errno;
        return -1;
    }
    struct rn_alg_res hr;
    memset(&hr, 0, sizeof hr);
    iov[0].iov_base = &hr;
    iov[0].iov_len = sizeof hr;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = iovcnt + 1;
    ssize_t r;
    do /* skip readiness markers: one-byte messages that only make A poll readable */
        r = REAL(recvmsg)(fd, &m, flags & MSG_DONTWAIT);
    while (r == 1);
    if (r < 0) {
        *err = errno;
        return -1;
    }
    if ((size_t)r < sizeof hr)
        return 0;
    if (hr.err) {
        *err = hr.err;
        return -1;
    }
    res->msg_flags = m.msg_flags & MSG_TRUNC;
    return r - (ssize_t)sizeof hr;
}

ssize_t alg_recv(int fd, struct rn_sock *s, const struct iovec *uiov, size_t iovcnt,
                        int flags, struct dg_rres *res, int *err)
{
    struct rn_iovbuf b;
    struct iovec *iov = rn_iov_get(&b, iovcnt + 1);
    if (iov == NULL) {
        *err = ENOMEM;
        return -1;
    }
    ssize_t r = alg_recv_iov(fd, s, uiov, iovcnt, flags, res, err, iov);
    rn_iov_put(&b, iov);
    return r;
}

/* accept() on a transform socket (or a hash operation socket): a new operation
 * socket from the host, numbered by the kernel as it arrives with SCM_RIGHTS. */
int alg_accept(int fd, struct rn_sock *s, struct sockaddr *addr, socklen_t *lenp,
                      int flags, int *err)
{
    struct rn_resp resp;
    int nfd = -1;
    if (rn_rpc(RN_OP_ALG_ACCEPT, INFO_ID(s->info), 0, 0, 0, 0, NULL, 0, &resp, NULL,
               0, &nfd, flags & SOCK_CLOEXEC) < 0) {
        *err = errno;
        return -1;
    }
    alg_fill(fd, &resp);
    if (rn_result(&resp) < 0) {
        *err = errno;
        if (nfd >= 0)
            REAL(close)(nfd);
        return -1;
    }
    if (nfd < 0) {
        *err = EPROTO;
        return -1;
    }
    if (addr != NULL && lenp != NULL) { /* an AF_ALG socket has no name: length 0 */
        socklen_t zero = 0;
        if (rn_copy_out(lenp, &zero, sizeof zero) < 0) {
            REAL(close)(nfd);
            *err = EFAULT;
            return -1;
        }
    }
    if (flags & SOCK_NONBLOCK) {
        int fl = fcntl(nfd, F_GETFL);
        fcntl(nfd, F_SETFL, (fl < 0 ? 0 : fl) | O_NONBLOCK);
    }
    struct stat st;
    if (fstat(nfd, &st) == 0)
        rn_cache_set(nfd, st.st_ino, rn_mkinfo(ST_SHIM, (uint32_t)resp.ret, RN_KIND_ALG, 0));
    return nfd;
}

/* splice / sendfile into an operation socket: the input goes as send() gives it, with
 * MSG_MORE where Linux's splice_to_socket sets it (SPLICE_F_MORE; for sendfile, more
 * of the range to come), so a hash stays open across pieces and closes at the end.
 * A's own splice would make each pipe page a message that ends the input.
 * from: a pipe (splice: what it holds, up to n) or a file (sendfile: up to n, at
 * *off if off, else at its position).  Bytes taken, or -1 with errno. */
ssize_t alg_splice_in(int out, struct rn_sock *s, int from, off_t *off, size_t n,
                             int more, int whole)
{
    off_t pos = -1;
    if (off && rn_copy_in(&pos, off, sizeof pos) < 0) {
        errno = EFAULT;
        return -1;
    }
    if (pos < 0 && off) {
        errno = EINVAL;
        return -1;
    }
    size_t chunk = whole ? RN_ALG_CHUNK : (n < (1u << 20) ? n : (1u << 20));
    char *buf = chunk ? malloc(2 * chunk) : NULL;
    if (chunk && buf == NULL) {
        errno = ENOMEM;
        return -1;
    }
    size_t total = 0;
    int cur = 0, err = 0;
    ssize_t got = 0;
    if (chunk) /* a pipe read takes what is there (blocking only while it is empty) */
        got = pos >= 0 ? REAL(syscall)(SYS_pread64, from, buf, chunk, pos)
                       : REAL(syscall)(SYS_read, from, buf, chunk);
    if (got < 0)
        err = errno;
    while (got > 0) {
        if (pos >= 0)
            pos += got;
        ssize_t next = 0; /* sendfile reads one part ahead: the last goes without MORE */
        size_t left = n - total - (size_t)got, want = left < chunk ? left : chunk;
        if (whole && want)
            next = pos >= 0 ? REAL(syscall)(SYS_pread64, from, buf + (1 - cur) * chunk, want, pos)
                            : REAL(syscall)(SYS_read, from, buf + (1 - cur) * chunk, want);
        struct iovec v = {buf + cur * chunk, (size_t)got};
        ssize_t r = alg_send(out, s, &v, 1, next > 0 || more ? MSG_MORE : 0, NULL, 0, &err);
        if (r < 0)
            break;
        total += (size_t)r;
        err = 0;
        cur = 1 - cur;
        got = next;
    }
    free(buf);
    if (off && total && rn_copy_out(off, &pos, sizeof pos) < 0)
        err = EFAULT;
    if (total == 0 && err) {
        errno = err;
        return -1;
    }
    return (ssize_t)total;
}
