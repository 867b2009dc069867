/* tracefmt.c - the trace line (rocketnet run --trace): a call, its arguments by name
 * (families, types, levels and options, flags, addresses, option values, msghdrs), its
 * result by errno name, one write() per line to the trace file.  traceopt.c holds
 * what the trace options add (timestamps, payload bytes, the call filter). */
#include "internal.h"

static int g_trace_fd = -1;
static pid_t g_trace_pid;
static ino_t g_trace_ino;

__attribute__((format(printf, 2, 3))) void tb_add(struct tb *t, const char *fmt, ...)
{
    if (t->n >= sizeof t->b - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->b + t->n, sizeof t->b - t->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        t->n += (size_t)k;
    if (t->n > sizeof t->b - 1)
        t->n = sizeof t->b - 1;
}

static const char *nm_find(const struct nm *t, size_t n, long v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].v == v)
            return t[i].s;
    return NULL;
}

static const struct nm nm_family[] = {
    NM(AF_UNSPEC), NM(AF_UNIX), NM(AF_INET), NM(AF_INET6), NM(AF_NETLINK), NM(AF_PACKET),
    NM(AF_ALG),
};
static const struct nm nm_stype[] = {
    NM(SOCK_STREAM), NM(SOCK_DGRAM), NM(SOCK_RAW), NM(SOCK_RDM), NM(SOCK_SEQPACKET),
    NM(SOCK_PACKET),
};
static const struct nm nm_level[] = {
    NM(SOL_SOCKET), NM(SOL_IP), NM(SOL_TCP), NM(SOL_IPV6), NM(SOL_RAW),
};
static const struct nm nm_so[] = {
    NM(SO_DEBUG), NM(SO_REUSEADDR), NM(SO_TYPE), NM(SO_ERROR), NM(SO_DONTROUTE),
    NM(SO_BROADCAST), NM(SO_SNDBUF), NM(SO_RCVBUF), NM(SO_KEEPALIVE), NM(SO_OOBINLINE),
    NM(SO_NO_CHECK), NM(SO_PRIORITY), NM(SO_LINGER), NM(SO_BSDCOMPAT), NM(SO_REUSEPORT),
    NM(SO_PASSCRED), NM(SO_PEERCRED), NM(SO_RCVLOWAT), NM(SO_SNDLOWAT),
    {20, "SO_RCVTIMEO_OLD"}, {21, "SO_SNDTIMEO_OLD"}, NM(SO_BINDTODEVICE),
    NM(SO_TIMESTAMP), NM(SO_ACCEPTCONN), NM(SO_SNDBUFFORCE), NM(SO_RCVBUFFORCE),
    NM(SO_PROTOCOL), NM(SO_DOMAIN), NM(SO_MARK), NM(SO_RXQ_OVFL), NM(SO_PEEK_OFF),
    NM(SO_BUSY_POLL), NM(SO_INCOMING_CPU), NM(SO_ZEROCOPY),
    {66, "SO_RCVTIMEO_NEW"}, {67, "SO_SNDTIMEO_NEW"},
};
static const struct nm nm_tcp[] = {
    NM(TCP_NODELAY), NM(TCP_MAXSEG), NM(TCP_CORK), NM(TCP_KEEPIDLE), NM(TCP_KEEPINTVL),
    NM(TCP_KEEPCNT), NM(TCP_SYNCNT), NM(TCP_LINGER2), NM(TCP_DEFER_ACCEPT),
    NM(TCP_WINDOW_CLAMP), NM(TCP_INFO), NM(TCP_QUICKACK), NM(TCP_CONGESTION),
    NM(TCP_MD5SIG), NM(TCP_THIN_LINEAR_TIMEOUTS), NM(TCP_USER_TIMEOUT), NM(TCP_REPAIR),
    NM(TCP_FASTOPEN), NM(TCP_TIMESTAMP), NM(TCP_NOTSENT_LOWAT), NM(TCP_FASTOPEN_CONNECT),
    NM(TCP_ULP), NM(TCP_ZEROCOPY_RECEIVE),
};
static const struct nm nm_ip[] = {
    NM(IP_TOS), NM(IP_TTL), NM(IP_HDRINCL), NM(IP_OPTIONS), NM(IP_RECVOPTS),
    NM(IP_RETOPTS), NM(IP_PKTINFO), NM(IP_MTU_DISCOVER), NM(IP_RECVERR), NM(IP_RECVTTL),
    NM(IP_RECVTOS), NM(IP_MTU), NM(IP_FREEBIND), NM(IP_TRANSPARENT),
    NM(IP_BIND_ADDRESS_NO_PORT), NM(IP_MULTICAST_IF), NM(IP_MULTICAST_TTL),
    NM(IP_MULTICAST_LOOP), NM(IP_ADD_MEMBERSHIP), NM(IP_DROP_MEMBERSHIP),
};
static const struct nm nm_ipv6[] = {
    NM(IPV6_V6ONLY), NM(IPV6_UNICAST_HOPS), NM(IPV6_MULTICAST_IF),
    NM(IPV6_MULTICAST_HOPS), NM(IPV6_MULTICAST_LOOP), NM(IPV6_MTU_DISCOVER), NM(IPV6_MTU),
    NM(IPV6_RECVERR), NM(IPV6_RECVPKTINFO), NM(IPV6_TCLASS), NM(IPV6_PKTINFO),
};
static const struct nm nm_msg[] = {
    NM(MSG_OOB), NM(MSG_PEEK), NM(MSG_DONTROUTE), NM(MSG_CTRUNC), NM(MSG_PROXY),
    NM(MSG_TRUNC), NM(MSG_DONTWAIT), NM(MSG_EOR), NM(MSG_WAITALL), NM(MSG_FIN),
    NM(MSG_SYN), NM(MSG_CONFIRM), NM(MSG_RST), NM(MSG_ERRQUEUE), NM(MSG_NOSIGNAL),
    NM(MSG_MORE), NM(MSG_WAITFORONE), NM(MSG_FASTOPEN), NM(MSG_CMSG_CLOEXEC),
#ifdef MSG_ZEROCOPY
    NM(MSG_ZEROCOPY),
#endif
};

void tb_sym(struct tb *t, const struct nm *tab, size_t n, long v)
{
    const char *s = nm_find(tab, n, v);
    if (s)
        tb_add(t, "%s", s);
    else
        tb_add(t, "%ld", v);
}

void tb_flags(struct tb *t, const struct nm *tab, size_t n, unsigned long v)
{
    if (v == 0) {
        tb_add(t, "0");
        return;
    }
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned long b = (unsigned long)tab[i].v;
        if (b && (v & b) == b) {
            tb_add(t, "%s%s", first ? "" : "|", tab[i].s);
            v &= ~b;
            first = 0;
        }
    }
    if (v)
        tb_add(t, "%s%#lx", first ? "" : "|", v);
}

void tb_stype(struct tb *t, int type)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    tb_sym(t, nm_stype, NMLEN(nm_stype), base);
    if (type & SOCK_NONBLOCK)
        tb_add(t, "|SOCK_NONBLOCK");
    if (type & SOCK_CLOEXEC)
        tb_add(t, "|SOCK_CLOEXEC");
}

void tb_sockflags(struct tb *t, int flags)
{
    if (flags == 0) {
        tb_add(t, "0");
        return;
    }
    const char *sep = "";
    if (flags & SOCK_NONBLOCK) {
        tb_add(t, "SOCK_NONBLOCK");
        sep = "|";
    }
    if (flags & SOCK_CLOEXEC) {
        tb_add(t, "%sSOCK_CLOEXEC", sep);
        sep = "|";
    }
    flags &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (flags)
        tb_add(t, "%s%#x", sep, (unsigned)flags);
}

void tb_level_opt(struct tb *t, int level, int opt)
{
    tb_sym(t, nm_level, NMLEN(nm_level), level);
    tb_add(t, ", ");
    switch (level) {
    case SOL_SOCKET: tb_sym(t, nm_so, NMLEN(nm_so), opt); break;
    case SOL_TCP: tb_sym(t, nm_tcp, NMLEN(nm_tcp), opt); break;
    case SOL_IP: tb_sym(t, nm_ip, NMLEN(nm_ip), opt); break;
    case SOL_IPV6: tb_sym(t, nm_ipv6, NMLEN(nm_ipv6), opt); break;
    default: tb_add(t, "%d", opt);
    }
}

/* a sockaddr we hold a local copy of */
void tb_addr(struct tb *t, const void *sa, size_t len)
{
    if (len < sizeof(sa_family_t)) {
        tb_add(t, "{}");
        return;
    }
    sa_family_t fam;
    memcpy(&fam, sa, sizeof fam);
    char ip[INET6_ADDRSTRLEN];
    if (fam == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
        tb_add(t, "{AF_INET, %s:%u}", ip, ntohs(in.sin_port));
    } else if (fam == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof ip);
        tb_add(t, "{AF_INET6, [%s]:%u", ip, ntohs(in6.sin6_port));
        if (in6.sin6_scope_id)
            tb_add(t, "%%%u", in6.sin6_scope_id);
        tb_add(t, "}");
    } else if (fam == AF_UNIX) {
        const char *p = (const char *)sa + offsetof(struct sockaddr_un, sun_path);
        size_t n = len - offsetof(struct sockaddr_un, sun_path);
        if (n > 0 && p[0] == 0)
            tb_add(t, "{AF_UNIX, @%.*s}", (int)(n - 1), p + 1);
        else
            tb_add(t, "{AF_UNIX, \"%.*s\"}", (int)strnlen(p, n), p);
    } else {
        tb_add(t, "{");
        tb_sym(t, nm_family, NMLEN(nm_family), fam);
        tb_add(t, ", ...}");
    }
}

/* a pointer argument: under the seccomp supervisor, the program's address for a copy
 * of its buffer (seccomp.c) */
void tb_ptr(struct tb *t, const void *p)
{
    tb_add(t, "%p", g_acting_pid ? rn_sc_theirs(p) : p);
}

void tb_ret(struct tb *t, long r, int err)
{
    if (r < 0) {
#ifdef __GLIBC__
        const char *en = strerrorname_np(err);
#else
        const char *en = NULL; /* musl has no errno names */
#endif
        if (en)
            tb_add(t, " = -1 %s\n", en);
        else
            tb_add(t, " = -1 errno %d\n", err);
    } else {
        tb_add(t, " = %ld\n", r);
    }
}

static int rn_trace_fd(void)
{
    pid_t me = rn_getpid();
    if (rn_guard(&g_tlock, RN_L_TRACE) < 0) /* re-entered: the file as it is */
        return __atomic_load_n(&g_trace_fd, __ATOMIC_RELAXED);
    int fd = g_trace_fd;
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_ino != g_trace_ino)
            fd = -1; /* closed behind our back (or exec'd): reopen */
    }
    if (fd < 0 && g_trace_path[0] == '&') {
        /* --trace -: the fd rocketnet run left open for us; once the program closed
         * it (or put something else there) the trace ends, it is never reopened */
        if (g_trace_ino == 0) {
            fd = atoi(g_trace_path + 1);
            struct stat st;
            g_trace_ino = fstat(fd, &st) == 0 ? st.st_ino : (ino_t)-1;
            if (g_trace_ino == (ino_t)-1)
                fd = -1;
            g_trace_fd = fd;
        }
    } else if (fd < 0) {
        fd = open(g_trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            fd = rn_move_high(fd);
            struct stat st;
            g_trace_ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
        }
        g_trace_fd = fd;
        g_trace_pid = me;
    }
    rn_unguard(&g_tlock, RN_L_TRACE);
    return fd;
}

/* Write a finished line (starts with the pid; we prepend it here). */
void tb_emit(struct tb *t)
{
    if (t->skip)
        return;
    if (g_acting_pid && rn_sc_hold(t))
        return;
    int e = errno;
    int fd = rn_trace_fd();
    if (fd >= 0) {
        if (t->n == 0 || t->b[t->n - 1] != '\n') {
            if (t->n >= sizeof t->b - 1)
                t->n = sizeof t->b - 2;
            t->b[t->n++] = '\n';
        }
        ssize_t k;
        do
            k = REAL(write)(fd, t->b, t->n);
        while (k < 0 && errno == EINTR);
    }
    errno = e;
}

void tb_start(struct tb *t, const char *call, int fd)
{
    t->n = 0;
    t->skip = !rn_tr_wanted(call);
    tb_add(t, "%d ", g_acting_pid ? g_acting_pid : (int)rn_getpid());
    tb_time(t);
    tb_add(t, "%s(", call);
    int cached = fd;             /* the cache is indexed by this process's fd */
    if (g_acting_pid && fd == g_acting_slot)
        fd = g_acting_fd;
    if (fd != INT_MIN) {
        tb_add(t, "%d", fd);
        if (g_tr_sockids && cached >= 0 && cached < RN_CACHE_N) { /* -y: the host's id */
            uint64_t i = __atomic_load_n(&g_cache[cached].info, __ATOMIC_ACQUIRE);
            if (INFO_STATE(i) == ST_SHIM)
                tb_add(t, "<sock %u>", INFO_ID(i));
        }
    }
}

void tb_family(struct tb *t, int family)
{
    tb_sym(t, nm_family, NMLEN(nm_family), family);
}

void tb_msgflags(struct tb *t, int flags)
{
    tb_flags(t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
}

/* a msghdr summary: name length, iovec count and bytes, control messages by level/type */
void tb_msghdr(struct tb *t, const struct msghdr *m, socklen_t namelen)
{
    size_t total = 0, n = m->msg_iovlen;
    struct iovec iov[16];
    size_t k = n < 16 ? n : 16;
    if (k && rn_copy_in(iov, m->msg_iov, k * sizeof *iov) == 0)
        for (size_t i = 0; i < k; i++)
            total += iov[i].iov_len;
    tb_add(t, "{name=%u, iov=[%zu%s, %zu bytes], control=", (unsigned)namelen, n,
           n > 16 ? "+" : "", total);
    unsigned char cbuf[512] __attribute__((aligned(8)));
    size_t cl = m->msg_controllen < sizeof cbuf ? m->msg_controllen : sizeof cbuf;
    if (!m->msg_control || cl == 0 || rn_copy_in(cbuf, m->msg_control, cl) < 0) {
        tb_add(t, "%zu", (size_t)m->msg_controllen);
    } else {
        struct msghdr c = {0};
        c.msg_control = cbuf;
        c.msg_controllen = cl;
        tb_add(t, "[");
        int first = 1;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&c); h; h = CMSG_NXTHDR(&c, h)) {
            tb_add(t, first ? "" : ", ");
            tb_level_opt(t, h->cmsg_level, h->cmsg_type);
            tb_add(t, "(%zu)", (size_t)h->cmsg_len);
            first = 0;
        }
        tb_add(t, "]");
    }
    tb_add(t, ", flags=");
    tb_msgflags(t, m->msg_flags);
    tb_add(t, "}, ");
}

/* simple "call(fd, count[, flags]) = r" lines for the data path */
void trace_io_buf(const char *call, int fd, const void *buf, long count, int has_flags,
                         int flags, long r, int err)
{
    struct tb t;
    tb_start(&t, call, fd);
    tb_payload(&t, buf, r);
    tb_add(&t, ", %ld", count);
    if (has_flags) {
        tb_add(&t, ", ");
        tb_flags(&t, nm_msg, NMLEN(nm_msg), (unsigned)flags);
    }
    tb_add(&t, ")");
    tb_ret(&t, r, err);
    tb_emit(&t);
}

void trace_io(const char *call, int fd, long count, int has_flags, int flags, long r,
                     int err)
{
    trace_io_buf(call, fd, NULL, count, has_flags, flags, r, err);
}

void tb_optval(struct tb *t, int level, int opt, const unsigned char *v, size_t len)
{
    if (level == SOL_ALG) { /* keys are never traced */
        tb_add(t, "<%zu bytes>", len);
        return;
    }
    if (len == sizeof(int)) {
        int x;
        memcpy(&x, v, sizeof x);
        tb_add(t, "[%d]", x);
    } else if (level == SOL_SOCKET && (opt == SO_RCVTIMEO || opt == SO_SNDTIMEO || opt == 66 ||
                                        opt == 67) && len >= sizeof(struct timeval)) {
        struct timeval tv;
        memcpy(&tv, v, sizeof tv);
        tb_add(t, "{tv_sec=%ld, tv_usec=%ld}", (long)tv.tv_sec, (long)tv.tv_usec);
    } else if (level == SOL_SOCKET && opt == SO_LINGER && len >= sizeof(struct linger)) {
        struct linger lg;
        memcpy(&lg, v, sizeof lg);
        tb_add(t, "{l_onoff=%d, l_linger=%d}", lg.l_onoff, lg.l_linger);
    } else if ((level == SOL_TCP && opt == TCP_CONGESTION) ||
               (level == SOL_SOCKET && opt == SO_BINDTODEVICE)) {
        tb_add(t, "\"%.*s\"", (int)strnlen((const char *)v, len), (const char *)v);
    } else {
        tb_add(t, "<%zu bytes>", len);
    }
}

