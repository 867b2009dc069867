/* resolv.c - names resolve in the stack's world.
 *
 * glibc's resolver (nss_dns, res_send) opens its UDP socket with internal calls a
 * preload library cannot catch, so its queries would leave through the machine's
 * network.  The resolver's public entry points are interposed instead and ask the
 * stack host (RN_OP_RESOLVE, shim/resolver.py), which resolves by its own policy:
 * hosts file, files/dns order, DNS sent through the stack's UDP.  The answer comes on a
 * waiter fd the stub reads natively (a DNS timeout is seconds, never an RPC).
 * - getaddrinfo: numeric hosts and services stay glibc's (AI_NUMERICHOST, no lookup);
 *   AI_ADDRCONFIG is decided on the stack's interfaces (getifaddrs here), as glibc's
 *   __check_pf would (loopback addresses do not count), except on a loopback-only host
 *   (see rn_getaddrinfo); each address the host gives is
 *   turned into glibc-allocated nodes by the numeric call, so freeaddrinfo frees them.
 * - gethostbyname, gethostbyname2, gethostbyname_r, gethostbyname2_r, gethostbyaddr,
 *   gethostbyaddr_r: struct hostent laid out in the caller's buffer (ERANGE) or a
 *   static one, h_errno as glibc sets it.
 * - getnameinfo: the service part and numeric forms are glibc's; the host name is
 *   the host's reverse lookup (EAI_AGAIN when no nameserver answers, as glibc).
 * - res_query, res_search, res_querydomain, res_send and their res_n* and __res_*
 *   names: raw DNS through the host (no search list: the host's policy has none).
 * Not interposed: getaddrinfo_a (glibc runs it in its own threads), gethostent
 * (enumerates the machine's hosts file, no network).
 */
#include "internal.h"

#include <ifaddrs.h>
#include <netdb.h>
#include <resolv.h>

#ifndef NETDB_INTERNAL   /* glibc's h_errno values, which musl lacks */
#define NETDB_INTERNAL (-1)
#endif
#ifndef NETDB_SUCCESS
#define NETDB_SUCCESS 0
#endif

typedef int (*f_gai_t)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef int (*f_gni_t)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t,
                       int);
typedef void (*f_fai_t)(struct addrinfo *);
static void *g_real_gai, *g_real_gni, *g_real_fai;

static void *rn_res_real(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p == NULL) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
#define REAL_GAI ((f_gai_t)rn_res_real(&g_real_gai, "getaddrinfo"))
#define REAL_GNI ((f_gni_t)rn_res_real(&g_real_gni, "getnameinfo"))
#define REAL_FAI ((f_fai_t)rn_res_real(&g_real_fai, "freeaddrinfo"))

/* One answer of the host: ans, then the names (canonical NUL alias NUL ...), then body. */
struct rn_res {
    struct rn_res_ans ans;
    const char *names;
    const unsigned char *body;
    unsigned char *buf;
};

/* Ask the host; 0 with r filled (free r->buf), -1 with errno if the host is unreachable
 * or went away before answering. */
static int rn_res_ask(int kind, const void *payload, size_t plen, int64_t a1, int64_t a2,
                      struct rn_res *r)
{
    struct rn_resp resp;
    memset(r, 0, sizeof *r);
    if (plen > RN_MAX_PAYLOAD) {
        errno = EMSGSIZE;
        return -1;
    }
    int wfd = rn_rpc_getfd(RN_OP_RESOLVE, 0, kind, a1, a2, payload, plen, &resp);
    if (wfd < 0)
        return -1;
    size_t cap = sizeof r->ans + 65536 + 4096;
    r->buf = malloc(cap);
    if (r->buf == NULL) {
        REAL(close)(wfd);
        errno = ENOMEM;
        return -1;
    }
    ssize_t n;
    do
        n = REAL(recv)(wfd, r->buf, cap, 0);
    while (n < 0 && errno == EINTR);
    int e = errno;
    REAL(close)(wfd);
    if (n < (ssize_t)sizeof r->ans) {
        free(r->buf);
        r->buf = NULL;
        errno = n < 0 ? e : ENETDOWN; /* the host ended without answering */
        return -1;
    }
    memcpy(&r->ans, r->buf, sizeof r->ans);
    size_t rest = (size_t)n - sizeof r->ans;
    if (r->ans.name_len > rest) {
        free(r->buf);
        r->buf = NULL;
        errno = EPROTO;
        return -1;
    }
    r->names = (const char *)r->buf + sizeof r->ans;
    if (r->ans.name_len == 0 || r->names[r->ans.name_len - 1] != 0) {
        free(r->buf);
        r->buf = NULL;
        errno = EPROTO;
        return -1;
    }
    r->body = r->buf + sizeof r->ans + r->ans.name_len;
    size_t blen = rest - r->ans.name_len;
    if (kind == RN_RES_ADDR && (size_t)r->ans.count * 17 > blen)
        r->ans.count = (uint32_t)(blen / 17);
    if (kind != RN_RES_ADDR && r->ans.count > blen)
        r->ans.count = (uint32_t)blen;
    return 0;
}

static int rn_res_herrno(int status)
{
    switch (status) {
    case RN_RES_NOTFOUND: return HOST_NOT_FOUND;
    case RN_RES_NODATA: return NO_DATA;
    case RN_RES_AGAIN: return TRY_AGAIN;
    default: return NO_RECOVERY;
    }
}

/* ---------------------------------------------------------------- getaddrinfo */

/* The stack has a non-loopback address of each family (glibc's __check_pf). */
static void rn_seen_families(int *s4, int *s6)
{
    struct ifaddrs *ifa = NULL;
    *s4 = *s6 = 0;
    if (rn_getifaddrs(&ifa) != 0)
        return;
    for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
            if (a.s_addr != htonl(INADDR_LOOPBACK))
                *s4 = 1;
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            if (!IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
                *s6 = 1;
        }
    }
    freeifaddrs(ifa);
}

static int rn_gai_status(int status)
{
    switch (status) {
    case RN_RES_NOTFOUND: return EAI_NONAME;
    case RN_RES_NODATA: return EAI_NODATA;
    case RN_RES_AGAIN: return EAI_AGAIN;
    default: return EAI_FAIL;
    }
}

RN_EXPORT int rn_getaddrinfo(const char *, const char *, const struct addrinfo *,
                             struct addrinfo **) __asm__("getaddrinfo");
int rn_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                   struct addrinfo **res)
{
    if (!g_enabled)
        return REAL_GAI(node, service, hints, res);
    struct addrinfo h;
    memset(&h, 0, sizeof h);
    if (hints)
        h = *hints;
    else
        h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG; /* glibc's AI_DEFAULT */
    int impossible = 0;
    if (h.ai_flags & AI_ADDRCONFIG) {
        /* glibc's rule on the stack's interfaces, except that a host with loopback only
         * (the default host) restricts nothing: glibc would refuse every AF_INET lookup
         * there (EAI_NONAME, even 127.0.0.1), which no program run on a real machine
         * expects (netperf asks AF_INET with AI_ADDRCONFIG) */
        int s4, s6;
        rn_seen_families(&s4, &s6);
        if (h.ai_family == AF_UNSPEC && (s4 || s6)) {
            if (s4 != s6)
                h.ai_family = s4 ? AF_INET : AF_INET6;
        } else if ((s4 || s6) &&
                   ((h.ai_family == AF_INET && !s4) || (h.ai_family == AF_INET6 && !s6))) {
            impossible = 1;
        }
        h.ai_flags &= ~AI_ADDRCONFIG;
    }
    /* Numeric host or no host: glibc's own answer, no lookup anywhere. */
    struct addrinfo nh = h;
    nh.ai_flags |= AI_NUMERICHOST;
    int r = REAL_GAI(node, service, &nh, res);
    if (r == 0 && impossible) {
        REAL_FAI(*res);
        *res = NULL;
        return EAI_NONAME;
    }
    if (r != EAI_NONAME || node == NULL || (h.ai_flags & AI_NUMERICHOST) || impossible)
        return r;
    unsigned char probe[16];
    if (inet_pton(AF_INET, node, probe) == 1 || inet_pton(AF_INET6, node, probe) == 1)
        return r; /* numeric, of another family than asked */

    struct rn_res ans;
    int64_t fl = ((h.ai_flags & AI_V4MAPPED) ? 1 : 0) | ((h.ai_flags & AI_ALL) ? 2 : 0);
    if (rn_res_ask(RN_RES_ADDR, node, strlen(node), h.ai_family, fl, &ans) < 0)
        return EAI_SYSTEM;
    if (ans.ans.status != RN_RES_OK || ans.ans.count == 0) {
        int st = ans.ans.status == RN_RES_OK ? RN_RES_NODATA : ans.ans.status;
        free(ans.buf);
        return rn_gai_status(st);
    }
    struct addrinfo *head = NULL, **tail = &head;
    nh.ai_flags &= ~AI_CANONNAME;
    for (uint32_t i = 0; i < ans.ans.count; i++) {
        const unsigned char *e = ans.body + (size_t)i * 17;
        int fam = e[0] == 4 ? AF_INET : AF_INET6;
        char text[INET6_ADDRSTRLEN];
        if ((e[0] != 4 && e[0] != 16) || !inet_ntop(fam, e + 1, text, sizeof text))
            continue;
        if (h.ai_family != AF_UNSPEC && h.ai_family != fam)
            continue;
        struct addrinfo *part = NULL;
        nh.ai_family = fam;
        r = REAL_GAI(text, service, &nh, &part);
        if (r != 0) {
            if (head)
                REAL_FAI(head);
            free(ans.buf);
            return r;
        }
        *tail = part;
        while (*tail)
            tail = &(*tail)->ai_next;
    }
    if (head == NULL) {
        free(ans.buf);
        return EAI_NODATA;
    }
    if (h.ai_flags & AI_CANONNAME) {
        free(head->ai_canonname); /* glibc's freeaddrinfo frees it with the node */
        head->ai_canonname = strdup(ans.names[0] ? ans.names : node);
        if (head->ai_canonname == NULL) {
            REAL_FAI(head);
            free(ans.buf);
            return EAI_MEMORY;
        }
    }
    free(ans.buf);
    *res = head;
    return 0;
}

/* ---------------------------------------------------------------- hostent */

/* Lay out a hostent in buf: alias pointers, address pointers, addresses, names.
 * names = "canonical\0alias\0...", nlen bytes with the last NUL.  ERANGE if it does
 * not fit. */
static int rn_hostent(struct hostent *he, char *buf, size_t buflen, const char *names,
                      size_t nlen, int af, const unsigned char *addrs, size_t naddr,
                      size_t stride)
{
    size_t alen = af == AF_INET ? 4 : 16;
    size_t nalias = 0;
    for (size_t off = strlen(names) + 1; off < nlen; off += strlen(names + off) + 1)
        nalias++;
    uintptr_t p = ((uintptr_t)buf + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
    size_t pad = p - (uintptr_t)buf;
    size_t need = pad + (nalias + 1 + naddr + 1) * sizeof(char *) + naddr * alen + nlen;
    if (need > buflen)
        return ERANGE;
    char **aliases = (char **)p;
    char **list = aliases + nalias + 1;
    char *data = (char *)(list + naddr + 1);
    for (size_t i = 0; i < naddr; i++) {
        list[i] = data;
        memcpy(data, addrs + i * stride, alen);
        data += alen;
    }
    list[naddr] = NULL;
    memcpy(data, names, nlen);
    he->h_name = data;
    size_t off = strlen(data) + 1, k = 0;
    while (off < nlen) {
        aliases[k++] = data + off;
        off += strlen(data + off) + 1;
    }
    aliases[k] = NULL;
    he->h_aliases = aliases;
    he->h_addrtype = af;
    he->h_length = (int)alen;
    he->h_addr_list = list;
    return 0;
}

/* gethostbyname2_r's work; returns 0 or ERANGE/errno as glibc, *herr set. */
static int rn_byname(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                     struct hostent **result, int *herr)
{
    *result = NULL;
    if (af != AF_INET && af != AF_INET6) {
        *herr = NETDB_INTERNAL;
        errno = EAFNOSUPPORT;
        return EAFNOSUPPORT;
    }
    unsigned char a[16];
    int numeric = af == AF_INET ? inet_aton(name, (struct in_addr *)a)
                                : inet_pton(AF_INET6, name, a) == 1;
    if (numeric) { /* glibc answers digits and dots itself: the name is the address */
        int r = rn_hostent(ret, buf, buflen, name, strlen(name) + 1, af, a, 1, 16);
        if (r) {
            *herr = NETDB_INTERNAL;
            errno = r;
            return r;
        }
        *herr = NETDB_SUCCESS;
        *result = ret;
        return 0;
    }
    struct rn_res ans;
    if (rn_res_ask(RN_RES_ADDR, name, strlen(name), af, 0, &ans) < 0) {
        *herr = NETDB_INTERNAL;
        return errno;
    }
    if (ans.ans.status != RN_RES_OK || ans.ans.count == 0) {
        *herr = rn_res_herrno(ans.ans.status == RN_RES_OK ? RN_RES_NODATA : ans.ans.status);
        free(ans.buf);
        return *herr == TRY_AGAIN ? EAGAIN : 0;
    }
    int r = rn_hostent(ret, buf, buflen, ans.names, ans.ans.name_len, af, ans.body + 1,
                       ans.ans.count, 17);
    free(ans.buf);
    if (r) {
        *herr = NETDB_INTERNAL;
        errno = r;
        return r;
    }
    *herr = NETDB_SUCCESS;
    *result = ret;
    return 0;
}

static int rn_byaddr(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                     size_t buflen, struct hostent **result, int *herr)
{
    *result = NULL;
    if ((type == AF_INET && len != 4) || (type == AF_INET6 && len != 16) ||
        (type != AF_INET && type != AF_INET6)) {
        *herr = NETDB_INTERNAL;
        errno = type == AF_INET || type == AF_INET6 ? EINVAL : EAFNOSUPPORT;
        return errno;
    }
    unsigned char a[16];
    if (rn_copy_in(a, addr, len) < 0) {
        *herr = NETDB_INTERNAL;
        return EFAULT;
    }
    struct rn_res ans;
    if (rn_res_ask(RN_RES_NAME, a, len, 0, 0, &ans) < 0) {
        *herr = NETDB_INTERNAL;
        return errno;
    }
    if (ans.ans.status != RN_RES_OK || !ans.names[0]) {
        *herr = rn_res_herrno(ans.ans.status == RN_RES_OK ? RN_RES_NOTFOUND : ans.ans.status);
        free(ans.buf);
        return *herr == TRY_AGAIN ? EAGAIN : 0;
    }
    int r = rn_hostent(ret, buf, buflen, ans.names, ans.ans.name_len, type, a, 1, 16);
    free(ans.buf);
    if (r) {
        *herr = NETDB_INTERNAL;
        errno = r;
        return r;
    }
    *herr = NETDB_SUCCESS;
    *result = ret;
    return 0;
}

/* The non-reentrant forms share one static result, as glibc's do. */
static struct hostent g_he;
static char g_he_buf[8192];
static pthread_mutex_t g_he_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct hostent *(*f_gbn2_t)(const char *, int);
typedef int (*f_gbn2r_t)(const char *, int, struct hostent *, char *, size_t, struct hostent **,
                         int *);
typedef struct hostent *(*f_gba_t)(const void *, socklen_t, int);
typedef int (*f_gbar_t)(const void *, socklen_t, int, struct hostent *, char *, size_t,
                        struct hostent **, int *);
static void *g_real_gbn2, *g_real_gbn2r, *g_real_gba, *g_real_gbar;

RN_EXPORT struct hostent *rn_gethostbyname2(const char *, int) __asm__("gethostbyname2");
struct hostent *rn_gethostbyname2(const char *name, int af)
{
    if (!g_enabled)
        return ((f_gbn2_t)rn_res_real(&g_real_gbn2, "gethostbyname2"))(name, af);
    struct hostent *res;
    int herr;
    pthread_mutex_lock(&g_he_lock);
    rn_byname(name, af, &g_he, g_he_buf, sizeof g_he_buf, &res, &herr);
    pthread_mutex_unlock(&g_he_lock);
    h_errno = herr;
    return res;
}

RN_EXPORT struct hostent *rn_gethostbyname(const char *) __asm__("gethostbyname");
struct hostent *rn_gethostbyname(const char *name) { return rn_gethostbyname2(name, AF_INET); }

RN_EXPORT int rn_gethostbyname2_r(const char *, int, struct hostent *, char *, size_t,
                                  struct hostent **, int *) __asm__("gethostbyname2_r");
int rn_gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
                        struct hostent **result, int *herr)
{
    if (!g_enabled)
        return ((f_gbn2r_t)rn_res_real(&g_real_gbn2r, "gethostbyname2_r"))(
            name, af, ret, buf, buflen, result, herr);
    int r = rn_byname(name, af, ret, buf, buflen, result, herr);
    h_errno = *herr; /* glibc sets both */
    return r;
}

RN_EXPORT int rn_gethostbyname_r(const char *, struct hostent *, char *, size_t,
                                 struct hostent **, int *) __asm__("gethostbyname_r");
int rn_gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
                       struct hostent **result, int *herr)
{
    return rn_gethostbyname2_r(name, AF_INET, ret, buf, buflen, result, herr);
}

RN_EXPORT struct hostent *rn_gethostbyaddr(const void *, socklen_t, int) __asm__("gethostbyaddr");
struct hostent *rn_gethostbyaddr(const void *addr, socklen_t len, int type)
{
    if (!g_enabled)
        return ((f_gba_t)rn_res_real(&g_real_gba, "gethostbyaddr"))(addr, len, type);
    struct hostent *res;
    int herr;
    pthread_mutex_lock(&g_he_lock);
    rn_byaddr(addr, len, type, &g_he, g_he_buf, sizeof g_he_buf, &res, &herr);
    pthread_mutex_unlock(&g_he_lock);
    h_errno = herr;
    return res;
}

RN_EXPORT int rn_gethostbyaddr_r(const void *, socklen_t, int, struct hostent *, char *, size_t,
                                 struct hostent **, int *) __asm__("gethostbyaddr_r");
int rn_gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
                       size_t buflen, struct hostent **result, int *herr)
{
    if (!g_enabled)
        return ((f_gbar_t)rn_res_real(&g_real_gbar, "gethostbyaddr_r"))(
            addr, len, type, ret, buf, buflen, result, herr);
    int r = rn_byaddr(addr, len, type, ret, buf, buflen, result, herr);
    h_errno = *herr; /* glibc sets both */
    return r;
}

/* ---------------------------------------------------------------- getnameinfo */

RN_EXPORT int rn_getnameinfo(const struct sockaddr *, socklen_t, char *, socklen_t, char *,
                             socklen_t, int) __asm__("getnameinfo");
int rn_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
                   char *serv, socklen_t servlen, int flags)
{
    if (!g_enabled || host == NULL || hostlen == 0 || (flags & NI_NUMERICHOST))
        return REAL_GNI(sa, salen, host, hostlen, serv, servlen, flags);
    int r = REAL_GNI(sa, salen, host, hostlen, serv, servlen,
                     (flags | NI_NUMERICHOST) & ~NI_NAMEREQD);
    if (r != 0)
        return r;
    unsigned char a[16];
    size_t len;
    if (sa->sa_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        len = 4;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_V4COMPAT(a6)) {
            memcpy(a, a6->s6_addr + 12, 4); /* glibc looks these up as IPv4 */
            len = 4;
        } else {
            memcpy(a, a6, 16);
            len = 16;
        }
    } else {
        return 0; /* no name lookup for other families */
    }
    struct rn_res ans;
    if (rn_res_ask(RN_RES_NAME, a, len, 0, 0, &ans) < 0)
        return EAI_SYSTEM;
    int st = ans.ans.status;
    if (st == RN_RES_OK && ans.names[0]) {
        size_t n = strlen(ans.names);
        if (n >= hostlen) {
            free(ans.buf);
            return EAI_OVERFLOW;
        }
        memcpy(host, ans.names, n + 1);
        free(ans.buf);
        return 0;
    }
    free(ans.buf);
    if (st == RN_RES_AGAIN)
        return EAI_AGAIN;
    return (flags & NI_NAMEREQD) ? EAI_NONAME : 0; /* the numeric form stays */
}

/* ---------------------------------------------------------------- res_* */

/* A raw DNS exchange: RN_RES_QUERY (name, class, type) or RN_RES_SEND (message). */
static int rn_res_raw(int kind, const void *payload, size_t plen, int cls, int type,
                      unsigned char *answer, int anslen, int check, res_state st)
{
    struct rn_res ans;
    if (anslen < 0 || rn_res_ask(kind, payload, plen, cls, type, &ans) < 0) {
        h_errno = NETDB_INTERNAL;
        if (st)
            st->res_h_errno = NETDB_INTERNAL;
        return -1;
    }
    int herr = NETDB_SUCCESS, ret = -1;
    if (ans.ans.status != RN_RES_OK || ans.ans.count < HFIXEDSZ) {
        herr = TRY_AGAIN;
        errno = ECONNREFUSED; /* as glibc's res_send when no server answered */
    } else {
        size_t n = ans.ans.count;
        memcpy(answer, ans.body, n < (size_t)anslen ? n : (size_t)anslen);
        ret = (int)n;
        const HEADER *hp = (const HEADER *)ans.body;
        if (check && (hp->rcode != NOERROR || ntohs(hp->ancount) == 0)) {
            ret = -1;
            herr = hp->rcode == NXDOMAIN ? HOST_NOT_FOUND : hp->rcode == SERVFAIL ? TRY_AGAIN
                   : hp->rcode == NOERROR ? NO_DATA : NO_RECOVERY;
        }
    }
    free(ans.buf);
    h_errno = herr;
    if (st)
        st->res_h_errno = herr;
    return ret;
}

static int rn_res_query(res_state st, const char *dname, int cls, int type, unsigned char *answer,
                        int anslen)
{
    return rn_res_raw(RN_RES_QUERY, dname, strlen(dname), cls, type, answer, anslen, 1, st);
}

static int rn_res_querydomain(res_state st, const char *name, const char *domain, int cls,
                              int type, unsigned char *answer, int anslen)
{
    char full[NS_MAXDNAME + 1];
    int n = domain ? snprintf(full, sizeof full, "%s.%s", name, domain)
                   : snprintf(full, sizeof full, "%s", name);
    if (n < 0 || (size_t)n >= sizeof full) {
        h_errno = NO_RECOVERY;
        errno = EMSGSIZE;
        return -1;
    }
    return rn_res_query(st, full, cls, type, answer, anslen);
}

typedef int (*f_resq_t)(const char *, int, int, unsigned char *, int);
typedef int (*f_resnq_t)(res_state, const char *, int, int, unsigned char *, int);
typedef int (*f_resd_t)(const char *, const char *, int, int, unsigned char *, int);
typedef int (*f_resnd_t)(res_state, const char *, const char *, int, int, unsigned char *, int);
typedef int (*f_ress_t)(const unsigned char *, int, unsigned char *, int);
typedef int (*f_resns_t)(res_state, const unsigned char *, int, unsigned char *, int);
static void *g_real_res[14];

/* The interposers: the plain names (glibc >= 2.34), the __res_* names older binaries
 * link against (libresolv), and the res_n* forms with a resolver state. */
#define RN_RESQ(cname, sym, slot)                                                           \
    RN_EXPORT int cname(const char *, int, int, unsigned char *, int) __asm__(sym);          \
    int cname(const char *d, int c, int t, unsigned char *a, int l)                         \
    {                                                                                        \
        if (!g_enabled)                                                                      \
            return ((f_resq_t)rn_res_real(&g_real_res[slot], sym))(d, c, t, a, l);           \
        return rn_res_query(NULL, d, c, t, a, l);                                            \
    }
#define RN_RESNQ(cname, sym, slot)                                                          \
    RN_EXPORT int cname(res_state, const char *, int, int, unsigned char *, int)             \
        __asm__(sym);                                                                        \
    int cname(res_state s, const char *d, int c, int t, unsigned char *a, int l)            \
    {                                                                                        \
        if (!g_enabled)                                                                      \
            return ((f_resnq_t)rn_res_real(&g_real_res[slot], sym))(s, d, c, t, a, l);       \
        return rn_res_query(s, d, c, t, a, l);                                               \
    }
#define RN_RESD(cname, sym, slot)                                                           \
    RN_EXPORT int cname(const char *, const char *, int, int, unsigned char *, int)          \
        __asm__(sym);                                                                        \
    int cname(const char *n, const char *d, int c, int t, unsigned char *a, int l)          \
    {                                                                                        \
        if (!g_enabled)                                                                      \
            return ((f_resd_t)rn_res_real(&g_real_res[slot], sym))(n, d, c, t, a, l);        \
        return rn_res_querydomain(NULL, n, d, c, t, a, l);                                   \
    }
#define RN_RESS(cname, sym, slot)                                                           \
    RN_EXPORT int cname(const unsigned char *, int, unsigned char *, int) __asm__(sym);      \
    int cname(const unsigned char *m, int ml, unsigned char *a, int l)                      \
    {                                                                                        \
        if (!g_enabled)                                                                      \
            return ((f_ress_t)rn_res_real(&g_real_res[slot], sym))(m, ml, a, l);             \
        return rn_res_raw(RN_RES_SEND, m, ml < 0 ? 0 : (size_t)ml, 0, 0, a, l, 0, NULL);     \
    }

/* res_search: the host's policy has no search list, so it is res_query. */
RN_RESQ(rn_res_query_p, "res_query", 0)
RN_RESQ(rn_res_search_p, "res_search", 1)
RN_RESQ(rn___res_query, "__res_query", 2)
RN_RESQ(rn___res_search, "__res_search", 3)
RN_RESNQ(rn_res_nquery, "res_nquery", 4)
RN_RESNQ(rn_res_nsearch, "res_nsearch", 5)
RN_RESD(rn_res_querydomain_p, "res_querydomain", 6)
RN_RESD(rn___res_querydomain, "__res_querydomain", 7)
RN_RESS(rn_res_send_p, "res_send", 8)
RN_RESS(rn___res_send, "__res_send", 9)

RN_EXPORT int rn_res_nquerydomain(res_state, const char *, const char *, int, int,
                                  unsigned char *, int) __asm__("res_nquerydomain");
int rn_res_nquerydomain(res_state s, const char *n, const char *d, int c, int t,
                        unsigned char *a, int l)
{
    if (!g_enabled)
        return ((f_resnd_t)rn_res_real(&g_real_res[10], "res_nquerydomain"))(s, n, d, c, t, a, l);
    return rn_res_querydomain(s, n, d, c, t, a, l);
}

RN_EXPORT int rn_res_nsend(res_state, const unsigned char *, int, unsigned char *, int)
    __asm__("res_nsend");
int rn_res_nsend(res_state s, const unsigned char *m, int ml, unsigned char *a, int l)
{
    if (!g_enabled)
        return ((f_resns_t)rn_res_real(&g_real_res[11], "res_nsend"))(s, m, ml, a, l);
    return rn_res_raw(RN_RES_SEND, m, ml < 0 ? 0 : (size_t)ml, 0, 0, a, l, 0, s);
}
