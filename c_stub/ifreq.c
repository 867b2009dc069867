/* ifreq.c - programs see the stack's interfaces, not the host's.
 *
 * - ioctl(SIOCGIF*, SIOCSIF*) on a shim socket is answered by the host from the stack's
 *   interfaces (RN_OP_IOCTL: arg0 = request, payload = struct ifreq; SIOCGIFCONF gets
 *   every entry and the stub copies what fits in ifc_len).  struct ifreq / ifconf are
 *   copied with rn_copy_in/out (EFAULT, never a crash).  Every other ioctl, and every
 *   ioctl on other fds, goes to the kernel unchanged (FIONREAD, FIONBIO... on A).
 * - socket(AF_NETLINK, ..., NETLINK_ROUTE) is a datagram shim socket the host answers
 *   (shim/netlink.py): do_socket asks the host for AF_NETLINK too.
 * - getifaddrs, if_nameindex, if_nametoindex, if_indextoname: glibc implements them
 *   with internal (non-interposable) socket calls to the kernel, so they are replaced
 *   here by the same netlink dumps over a shim NETLINK_ROUTE socket.  Memory is laid
 *   out so glibc's freeifaddrs (one free) and if_freenameindex (names, then array)
 *   release it.
 */
#include "internal.h"

#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netpacket/packet.h>

static int rn_is_ifioctl(unsigned long req)
{
    switch (req) {
    case SIOCGIFNAME: case SIOCGIFCONF: case SIOCGIFFLAGS: case SIOCGIFADDR:
    case SIOCGIFBRDADDR: case SIOCGIFNETMASK: case SIOCGIFMTU: case SIOCGIFHWADDR:
    case SIOCGIFINDEX:
    /* and every SIOCSIF*: a root program must change the stack's interface, never the
       machine's (the host answers EPERM without root, as Linux) */
    case SIOCSIFFLAGS: case SIOCSIFADDR: case SIOCSIFBRDADDR: case SIOCSIFNETMASK:
    case SIOCSIFMETRIC: case SIOCSIFMTU: case SIOCSIFHWADDR: case SIOCSIFNAME:
    case SIOCSIFHWBROADCAST: case SIOCSIFTXQLEN: case SIOCSIFMAP:
        return 1;
    default:
        return 0;
    }
}

static int rn_ifioctl(struct rn_sock *s, unsigned long req, void *arg)
{
    struct rn_resp resp;
    unsigned char buf[RN_MAX_PAYLOAD];
    if (req == SIOCGIFCONF) {
        struct ifconf ifc;
        if (rn_copy_in(&ifc, arg, sizeof ifc) < 0)
            return -1;
        if (rn_rpc(RN_OP_IOCTL, INFO_ID(s->info), (int64_t)req, 0, 0, 0, NULL, 0, &resp, buf,
                   sizeof buf, NULL, 0) < 0 || rn_result(&resp) < 0)
            return -1;
        size_t n = resp.payload_len > sizeof buf ? sizeof buf : resp.payload_len;
        if (ifc.ifc_buf == NULL) {
            ifc.ifc_len = (int)n; /* the size needed, as Linux answers */
        } else {
            size_t room = ifc.ifc_len < 0 ? 0 : (size_t)ifc.ifc_len;
            size_t k = room / sizeof(struct ifreq) * sizeof(struct ifreq);
            if (k > n)
                k = n;
            if (rn_copy_out(ifc.ifc_buf, buf, k) < 0)
                return -1;
            ifc.ifc_len = (int)k;
        }
        return rn_copy_out(&((struct ifconf *)arg)->ifc_len, &ifc.ifc_len, sizeof ifc.ifc_len);
    }
    struct ifreq ifr;
    if (rn_copy_in(&ifr, arg, sizeof ifr) < 0)
        return -1;
    if (rn_rpc(RN_OP_IOCTL, INFO_ID(s->info), (int64_t)req, 0, 0, 0, &ifr, sizeof ifr, &resp,
               buf, sizeof buf, NULL, 0) < 0 || rn_result(&resp) < 0)
        return -1;
    if (resp.payload_len != sizeof ifr) {
        errno = EIO;
        return -1;
    }
    return rn_copy_out(arg, buf, sizeof ifr);
}

RN_EXPORT int rn_ioctl(int, unsigned long, ...) __asm__("ioctl");
int rn_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    f_ioctl_t real = (f_ioctl_t)rn_sym(&g_real_ioctl, "ioctl");
    struct rn_sock ds;
    if (RN_UNLIKELY(req == SIOCATMARK) && rn_dg_hint(fd) && dg_confirm(fd, &ds) > 0) {
        errno = ENOTTY; /* UDP has no urgent mark; A (SEQPACKET) would say EOPNOTSUPP */
        return -1;
    }
    if (RN_UNLIKELY(req == SIOCATMARK && g_oob_quirks) && g_enabled) {
        int m = urg_mark(fd); /* urgent.c */
        if (m >= 0)
            return rn_copy_out(arg, &m, sizeof m) < 0 ? (errno = EFAULT, -1) : 0;
    }
    if (!g_enabled || !rn_is_ifioctl(req))
        return real(fd, req, arg);
    int saved = errno;
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c == 0) {
        errno = saved;
        return real(fd, req, arg);
    }
    int r = -1, err = ENETDOWN;
    if (c > 0) {
        r = rn_ifioctl(&s, req, arg);
        err = errno;
    }
    if (g_trace_on) {
        struct tb t;
        tb_start(&t, "ioctl", fd);
        tb_add(&t, ", %#lx, ", req);
        tb_ptr(&t, arg);
        tb_add(&t, ")");
        tb_ret(&t, r, err);
        tb_emit(&t);
    }
    errno = r < 0 ? err : saved;
    return r < 0 ? -1 : 0;
}

/* ---- NETLINK_ROUTE dumps ----------------------------------------------------- */

/* Dump (RTM_GETLINK / RTM_GETADDR) over a shim netlink socket: the messages, NLMSG_DONE
 * excluded, concatenated in a malloc'd buffer.  0, or -1 with errno. */
static int rn_nl_dump(uint16_t type, unsigned char **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    int fd = do_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct {
        struct nlmsghdr nh;
        struct rtgenmsg g;
        unsigned char pad[3];
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = type;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    req.g.rtgen_family = AF_UNSPEC;
    struct sockaddr_nl k;
    memset(&k, 0, sizeof k);
    k.nl_family = AF_NETLINK;
    const size_t cap = 65536;
    unsigned char *rb = malloc(cap);
    unsigned char *acc = NULL;
    size_t len = 0;
    int done = 0, err = 0;
    if (rb == NULL) {
        err = ENOMEM;
        goto out;
    }
    if (rn_sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&k, sizeof k) < 0) {
        err = errno;
        goto out;
    }
    while (!done && !err) {
        ssize_t n = rn_recv(fd, rb, cap, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : EIO;
            break;
        }
        size_t left = (size_t)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)rb; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_seq != 1)
                continue;
            if (h->nlmsg_type == NLMSG_DONE) {
                done = 1;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                int e = 0;
                if (h->nlmsg_len >= NLMSG_LENGTH(sizeof e))
                    memcpy(&e, NLMSG_DATA(h), sizeof e);
                err = e < 0 ? -e : EIO;
                break;
            }
            size_t al = NLMSG_ALIGN(h->nlmsg_len);
            if (al > left)
                al = left;
            unsigned char *bigger = realloc(acc, len + al);
            if (bigger == NULL) {
                err = ENOMEM;
                break;
            }
            acc = bigger;
            memcpy(acc + len, h, al);
            len += al;
        }
    }
out:
    free(rb);
    rn_close(fd);
    if (err) {
        free(acc);
        errno = err;
        return -1;
    }
    *out = acc;
    *outlen = len;
    return 0;
}

#define RN_MAX_LINKS 256
struct rn_link {
    int index;
    unsigned flags;
    unsigned short type;
    unsigned char maclen, brdlen;
    unsigned char mac[8], brd[8];
    char name[IF_NAMESIZE];
    struct rtnl_link_stats stats;
};

/* The stack's links; returns how many (<= max), or -1 with errno. */
static int rn_nl_links(struct rn_link *links, int max)
{
    unsigned char *buf;
    size_t len;
    if (rn_nl_dump(RTM_GETLINK, &buf, &len) < 0)
        return -1;
    int n = 0;
    size_t left = len;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; buf && NLMSG_OK(h, left) && n < max;
         h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
            continue;
        struct ifinfomsg *ifi = NLMSG_DATA(h);
        struct rn_link *l = &links[n];
        memset(l, 0, sizeof *l);
        l->index = ifi->ifi_index;
        l->flags = ifi->ifi_flags;
        l->type = ifi->ifi_type;
        size_t alen = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifi);
        for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            size_t pl = RTA_PAYLOAD(a);
            switch (a->rta_type) {
            case IFLA_IFNAME:
                memcpy(l->name, RTA_DATA(a), pl < IF_NAMESIZE - 1 ? pl : IF_NAMESIZE - 1);
                break;
            case IFLA_ADDRESS:
                l->maclen = (unsigned char)(pl < sizeof l->mac ? pl : sizeof l->mac);
                memcpy(l->mac, RTA_DATA(a), l->maclen);
                break;
            case IFLA_BROADCAST:
                l->brdlen = (unsigned char)(pl < sizeof l->brd ? pl : sizeof l->brd);
                memcpy(l->brd, RTA_DATA(a), l->brdlen);
                break;
            case IFLA_STATS:
                memcpy(&l->stats, RTA_DATA(a), pl < sizeof l->stats ? pl : sizeof l->stats);
                break;
            default:
                break;
            }
        }
        n++;
    }
    free(buf);
    return n;
}

RN_EXPORT unsigned int rn_if_nametoindex(const char *) __asm__("if_nametoindex");
RN_EXPORT char *rn_if_indextoname(unsigned int, char *) __asm__("if_indextoname");
RN_EXPORT struct if_nameindex *rn_if_nameindex(void) __asm__("if_nameindex");
void *g_real_nametoindex, *g_real_indextoname, *g_real_nameindex, *g_real_getifaddrs;

unsigned int rn_if_nametoindex(const char *name)
{
    if (!g_enabled)
        return ((unsigned int (*)(const char *))rn_sym(&g_real_nametoindex,
                                                          "if_nametoindex"))(name);
    char want[IF_NAMESIZE + 1];
    memset(want, 0, sizeof want);
    for (size_t i = 0; i < IF_NAMESIZE; i++) {
        if (rn_copy_in(&want[i], name + i, 1) < 0)
            return 0; /* EFAULT */
        if (want[i] == 0)
            break;
    }
    if (want[IF_NAMESIZE - 1] != 0) {
        errno = ENODEV;
        return 0;
    }
    struct rn_link *links = malloc(RN_MAX_LINKS * sizeof *links);
    if (links == NULL)
        return 0;
    int n = rn_nl_links(links, RN_MAX_LINKS);
    unsigned int idx = 0;
    for (int i = 0; i < n; i++)
        if (strcmp(links[i].name, want) == 0)
            idx = (unsigned int)links[i].index;
    free(links);
    if (n >= 0 && idx == 0)
        errno = ENODEV;
    return idx;
}

char *rn_if_indextoname(unsigned int index, char *buf)
{
    if (!g_enabled)
        return ((char *(*)(unsigned int, char *))rn_sym(&g_real_indextoname,
                                                          "if_indextoname"))(index, buf);
    struct rn_link *links = malloc(RN_MAX_LINKS * sizeof *links);
    if (links == NULL)
        return NULL;
    int n = rn_nl_links(links, RN_MAX_LINKS);
    char *r = NULL;
    for (int i = 0; i < n; i++) {
        if ((unsigned int)links[i].index == index) {
            r = rn_copy_out(buf, links[i].name, strlen(links[i].name) + 1) < 0 ? NULL : buf;
            break;
        }
    }
    if (n >= 0 && r == NULL && errno != EFAULT)
        errno = ENXIO;
    free(links);
    return r;
}

struct if_nameindex *rn_if_nameindex(void)
{
    if (!g_enabled)
        return ((struct if_nameindex * (*)(void)) rn_sym(&g_real_nameindex, "if_nameindex"))();
    struct rn_link *links = malloc(RN_MAX_LINKS * sizeof *links);
    if (links == NULL)
        return NULL;
    int n = rn_nl_links(links, RN_MAX_LINKS);
    struct if_nameindex *ix = n < 0 ? NULL : calloc((size_t)n + 1, sizeof *ix);
    for (int i = 0; ix && i < n; i++) {
        ix[i].if_index = (unsigned int)links[i].index;
        ix[i].if_name = strdup(links[i].name);
        if (ix[i].if_name == NULL) {
            for (int j = 0; j < i; j++)
                free(ix[j].if_name);
            free(ix);
            ix = NULL;
            errno = ENOBUFS;
        }
    }
    free(links);
    return ix;
}

struct rn_ifa {
    struct ifaddrs ifa;
    struct sockaddr_storage addr, mask, brd;
    char name[IF_NAMESIZE];
    struct rtnl_link_stats stats;
};

static void rn_prefix_mask(struct sockaddr_storage *ss, int family, unsigned prefix)
{
    unsigned char m[16];
    size_t sz = family == AF_INET ? 4 : 16;
    memset(m, 0, sizeof m);
    for (size_t i = 0; i < sz && prefix > 0; i++) {
        unsigned bits = prefix >= 8 ? 8 : prefix;
        m[i] = (unsigned char)(0xff00u >> bits);
        prefix -= bits;
    }
    ss->ss_family = (sa_family_t)family;
    if (family == AF_INET)
        memcpy(&((struct sockaddr_in *)ss)->sin_addr, m, 4);
    else
        memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr, m, 16);
}

static void rn_set_ip(struct sockaddr_storage *ss, int family, const void *a, int ifindex)
{
    ss->ss_family = (sa_family_t)family;
    if (family == AF_INET) {
        memcpy(&((struct sockaddr_in *)ss)->sin_addr, a, 4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        memcpy(&s6->sin6_addr, a, 16);
        if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&s6->sin6_addr))
            s6->sin6_scope_id = (uint32_t)ifindex;
    }
}

int rn_getifaddrs(struct ifaddrs **ifap)
{
    if (!g_enabled)
        return ((int (*)(struct ifaddrs **))rn_sym(&g_real_getifaddrs, "getifaddrs"))(ifap);
    struct rn_link *links = malloc(RN_MAX_LINKS * sizeof *links);
    unsigned char *abuf = NULL;
    size_t alen = 0;
    int n = links ? rn_nl_links(links, RN_MAX_LINKS) : -1;
    if (n < 0 || rn_nl_dump(RTM_GETADDR, &abuf, &alen) < 0) {
        int e = errno;
        free(links);
        errno = e;
        return -1;
    }
    size_t naddr = 0, left = alen;
    for (struct nlmsghdr *h = (struct nlmsghdr *)abuf; abuf && NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left))
        naddr += h->nlmsg_type == RTM_NEWADDR;
    size_t total = (size_t)n + naddr;
    struct rn_ifa *v = total ? calloc(total, sizeof *v) : NULL;
    if (total && v == NULL) {
        free(links);
        free(abuf);
        errno = ENOMEM;
        return -1;
    }
    size_t k = 0;
    for (int i = 0; i < n; i++, k++) { /* AF_PACKET entries first, as glibc */
        struct rn_ifa *e = &v[k];
        memcpy(e->name, links[i].name, sizeof e->name);
        e->ifa.ifa_name = e->name;
        e->ifa.ifa_flags = links[i].flags;
        struct sockaddr_ll *ll = (struct sockaddr_ll *)&e->addr;
        ll->sll_family = AF_PACKET;
        ll->sll_ifindex = links[i].index;
        ll->sll_hatype = links[i].type;
        ll->sll_halen = links[i].maclen;
        memcpy(ll->sll_addr, links[i].mac, links[i].maclen);
        e->ifa.ifa_addr = (struct sockaddr *)&e->addr;
        if (links[i].brdlen) {
            struct sockaddr_ll *bl = (struct sockaddr_ll *)&e->brd;
            bl->sll_family = AF_PACKET;
            bl->sll_ifindex = links[i].index;
            bl->sll_hatype = links[i].type;
            bl->sll_halen = links[i].brdlen;
            memcpy(bl->sll_addr, links[i].brd, links[i].brdlen);
            e->ifa.ifa_broadaddr = (struct sockaddr *)&e->brd;
        }
        e->stats = links[i].stats;
        e->ifa.ifa_data = &e->stats;
    }
    left = alen;
    for (struct nlmsghdr *h = (struct nlmsghdr *)abuf; abuf && NLMSG_OK(h, left);
         h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type != RTM_NEWADDR)
            continue;
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
            continue;
        struct ifaddrmsg *ifa = NLMSG_DATA(h);
        int fam = ifa->ifa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        size_t asz = fam == AF_INET ? 4 : 16;
        struct rn_ifa *e = &v[k];
        const void *address = NULL, *local = NULL, *brd = NULL;
        size_t rl = h->nlmsg_len - NLMSG_LENGTH(sizeof *ifa);
        for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, rl); a = RTA_NEXT(a, rl)) {
            size_t pl = RTA_PAYLOAD(a);
            if (a->rta_type == IFA_ADDRESS && pl >= asz)
                address = RTA_DATA(a);
            else if (a->rta_type == IFA_LOCAL && pl >= asz)
                local = RTA_DATA(a);
            else if (a->rta_type == IFA_BROADCAST && pl >= asz)
                brd = RTA_DATA(a);
            else if (a->rta_type == IFA_LABEL)
                memcpy(e->name, RTA_DATA(a), pl < IF_NAMESIZE - 1 ? pl : IF_NAMESIZE - 1);
        }
        for (int i = 0; i < n; i++) {
            if ((unsigned)links[i].index == ifa->ifa_index) {
                e->ifa.ifa_flags = links[i].flags;
                if (e->name[0] == 0)
                    memcpy(e->name, links[i].name, sizeof e->name);
            }
        }
        if (local == NULL)
            local = address;
        if (local == NULL)
            continue;
        e->ifa.ifa_name = e->name;
        rn_set_ip(&e->addr, fam, local, (int)ifa->ifa_index);
        e->ifa.ifa_addr = (struct sockaddr *)&e->addr;
        rn_prefix_mask(&e->mask, fam, ifa->ifa_prefixlen);
        e->ifa.ifa_netmask = (struct sockaddr *)&e->mask;
        if (brd != NULL && (e->ifa.ifa_flags & IFF_BROADCAST)) {
            rn_set_ip(&e->brd, fam, brd, (int)ifa->ifa_index);
            e->ifa.ifa_broadaddr = (struct sockaddr *)&e->brd;
        }
        k++;
    }
    for (size_t i = 0; i + 1 < k; i++)
        v[i].ifa.ifa_next = &v[i + 1].ifa;
    free(links);
    free(abuf);
    if (k == 0) {
        free(v);
        v = NULL;
    }
    struct ifaddrs *head = v ? &v->ifa : NULL;
    if (rn_copy_out(ifap, &head, sizeof head) < 0) {
        free(v);
        return -1; /* EFAULT */
    }
    return 0;
}
