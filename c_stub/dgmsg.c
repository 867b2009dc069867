/* dgmsg.c - datagram shim sockets (UDP), the calls with more than one buffer or
 * message: sendmsg's control data (judged by the kernel), recvmsg's control messages,
 * readv/writev, sendmmsg/recvmmsg, and dup/dup2/dup3 (a datagram fd's cache entry and
 * destinations go with its new number).  dgram.c holds send and receive themselves. */
#include "internal.h"

#include <time.h>

#ifndef MSG_PROBE
#define MSG_PROBE 0x10 /* linux/socket.h: "do not send, only probe path" (glibc: MSG_PROXY) */
#endif

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

ssize_t dg_sendmsg(int fd, struct rn_sock *s, const struct msghdr *msg, int flags)
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

ssize_t dg_recvmsg(int fd, struct rn_sock *s, struct msghdr *msg, int flags)
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

ssize_t dg_readv(int fd, struct rn_sock *s, const struct iovec *v, int cnt, int wr)
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

void *g_real_recvmmsg, *g_real_sendmmsg, *g_real_dup, *g_real_dup2, *g_real_dup3;

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


int rn_recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *tmo)
{
    struct rn_sock s;
    DG_PATH(fd, s, dg_mmsg(fd, &s, vec, vlen, flags, tmo, 0));
    return ((f_recvmmsg_t)rn_sym(&g_real_recvmmsg, "recvmmsg"))(fd, vec, vlen, flags, tmo);
}

int rn_sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    struct rn_sock s;
    DG_PATH(fd, s, dg_mmsg(fd, &s, vec, vlen, flags, NULL, 1));
    return ((f_sendmmsg_t)rn_sym(&g_real_sendmmsg, "sendmmsg"))(fd, vec, vlen, flags);
}

/* dup'd fds keep their cache entry (the new fd is the same socket); an unclassified
 * candidate stays a candidate. */
void rn_dg_dup_cache(int oldfd, int newfd)
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

/* the line of dup, dup2 (nfd >= 0) or dup3 (flags >= 0); the seccomp supervisor's too */
RN_EXPORT void rn_tr_dup(const char *call, int fd, int nfd, int flags, int r, int err);
void rn_tr_dup(const char *call, int fd, int nfd, int flags, int r, int err)
{
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

/* dup, dup2 and dup3 of a shim fd, when tracing */
static void trace_dup(const char *call, int fd, int nfd, int flags, int r, int err)
{
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(r >= 0 ? r : fd, &s);
    errno = saved;
    if (c > 0)
        rn_tr_dup(call, fd, nfd, flags, r, err);
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
    rn_ctl_touch(nfd, nfd);
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
    rn_ctl_touch(nfd, nfd);
    int r = ((f_dup3_t)rn_sym(&g_real_dup3, "dup3"))(fd, nfd, flags);
    if (r >= 0)
        rn_dg_dup_cache(fd, r);
    if (RN_UNLIKELY(g_trace_on))
        trace_dup("dup3", fd, nfd, flags, r, errno);
    return r;
}
