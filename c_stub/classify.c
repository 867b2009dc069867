/* classify.c - is this fd one of our shim sockets?  By the per-fd cache, else by its
 * abstract name (the host's nonce) and SO_PEERCRED (the host's pid). */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Classification                                                            */

/* 1: shim fd (s filled), 0: not ours (any non-socket, unknown or bad fd),
 * -1: looks like a shim fd but the host is unreachable (errno ENETDOWN). */
int rn_classify(int fd, struct rn_sock *s)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    __atomic_store_n(&g_last_fd, fd, __ATOMIC_RELAXED);
    s->ino = st.st_ino;
    if (fd < RN_CACHE_N) {
        uint64_t i1 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        uint64_t ino = __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE);
        uint64_t i2 = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
        if (i1 == i2 && INFO_STATE(i1) != 0 && INFO_STATE(i1) != ST_DG_CANDIDATE &&
            ino == (uint64_t)st.st_ino) {
            s->info = i1;
            return INFO_STATE(i1) == ST_SHIM;
        }
    }
    uint64_t neg = rn_mkinfo(ST_NOT, 0, 0, 0);
    struct sockaddr_un un;
    socklen_t l = sizeof un;
    memset(&un, 0, sizeof un);
    const size_t off = offsetof(struct sockaddr_un, sun_path);
    const size_t plen = sizeof(RN_NAME_PREFIX) - 1;
    if (REAL(getsockname)(fd, (struct sockaddr *)&un, &l) < 0 || un.sun_family != AF_UNIX ||
        l <= off + 1 + plen || l > sizeof un || un.sun_path[0] != 0 ||
        memcmp(un.sun_path + 1, RN_NAME_PREFIX, plen) != 0) {
        rn_cache_set(fd, st.st_ino, neg);
        s->info = neg;
        return 0;
    }
    char nonce[RN_NONCE_LEN];
    pid_t hpid = 0;
    if (rn_host_identity(nonce, &hpid) < 0)
        return -1;
    const char *p = un.sun_path + 1 + plen;
    size_t rest = l - off - 1 - plen;
    uint64_t id = 0;
    int ok = rest > RN_NONCE_LEN + 1 && memcmp(p, nonce, RN_NONCE_LEN) == 0 &&
             p[RN_NONCE_LEN] == '-';
    int is_unix = ok && p[RN_NONCE_LEN + 1] == 'u'; /* AF_UNIX stream/seqpacket (unix.c) */
    size_t first = RN_NONCE_LEN + 1 + (size_t)is_unix;
    ok = ok && rest > first && rest <= first + 10;
    for (size_t i = first; ok && i < rest; i++) {
        if (p[i] < '0' || p[i] > '9')
            ok = 0;
        else
            id = id * 10 + (uint64_t)(p[i] - '0');
    }
    if (ok && id > UINT32_MAX)
        ok = 0;
    if (ok) {
        struct ucred cr;
        socklen_t cl = sizeof cr;
        /* an unconnected AF_UNIX socket of the host has no peer (pid 0) */
        if (REAL(getsockopt)(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
            (cr.pid != hpid && !(is_unix && cr.pid == 0)))
            ok = 0;
    }
    if (!ok) {
        rn_cache_set(fd, st.st_ino, neg);
        s->info = neg;
        return 0;
    }
    int type = 0;
    socklen_t tl = sizeof type;
    REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
    int kind = is_unix ? RN_KIND_UNIX
               : type == SOCK_STREAM ? RN_KIND_STREAM
               : type == SOCK_SEQPACKET ? RN_KIND_DGRAM : 0;
    if (kind == RN_KIND_DGRAM) { /* AF_ALG sockets are SEQPACKET pairs too (alg.c) */
        struct rn_resp resp;
        int dom = 0;
        if (rn_rpc(RN_OP_GETSOCKOPT, (uint32_t)id, SOL_SOCKET, SO_DOMAIN, sizeof dom, 0, NULL, 0,
                   &resp, &dom, sizeof dom, NULL, 0) == 0 &&
            resp.ret >= 0 && dom == AF_ALG)
            kind = RN_KIND_ALG;
    }
    s->info = rn_mkinfo(ST_SHIM, (uint32_t)id, kind, 0);
    rn_cache_set(fd, st.st_ino, s->info);
    return 1;
}

