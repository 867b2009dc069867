/* veth_pair: RTM_NEWLINK with IFLA_LINKINFO kind "veth" (VETH_INFO_PEER) makes a pair of
 * devices (LTP's tst_create_veth_pair); admin up/down by SIOCSIFFLAGS, RTM_NEWLINK and
 * RTM_SETLINK (carrier only when both ends are up); addresses on them; RTM_DELLINK removes
 * both ends; the errors of each; EPERM without CAP_NET_ADMIN.
 * rocketnet: native in a private network namespace */
#define _GNU_SOURCE
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#define BUF 16384

struct req {
    char b[1024];
    size_t n;
};

static int nl_open(void)
{
    return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

static void put(struct req *r, const void *p, size_t n)
{
    memcpy(r->b + r->n, p, n);
    r->n += NLMSG_ALIGN(n);
}

static size_t attr_open(struct req *r, unsigned short type)
{
    struct rtattr a = {.rta_len = 0, .rta_type = type};
    size_t at = r->n;
    put(r, &a, sizeof a);
    return at;
}

static void attr_close(struct req *r, size_t at)
{
    ((struct rtattr *)(r->b + at))->rta_len = (unsigned short)(r->n - at);
}

static void attr(struct req *r, unsigned short type, const void *p, size_t n)
{
    size_t at = attr_open(r, type);
    memcpy(r->b + r->n, p, n);
    r->n += n;
    attr_close(r, at);
    r->n = NLMSG_ALIGN(r->n);
}

static void head(struct req *r, unsigned short type, unsigned short flags)
{
    memset(r, 0, sizeof *r);
    struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags,
                         .nlmsg_seq = 1};
    put(r, &h, sizeof h);
}

static void link_head(struct req *r, unsigned short type, unsigned short flags, int index,
                      unsigned int ifflags, unsigned int change)
{
    head(r, type, flags);
    struct ifinfomsg i = {.ifi_family = AF_UNSPEC, .ifi_index = index,
                          .ifi_flags = ifflags, .ifi_change = change};
    put(r, &i, sizeof i);
}

/* send r; the errno of the NLMSG_ERROR answer (0: acked), or -1 when none came */
static int talk(int s, struct req *r, char *reply, ssize_t *len)
{
    ((struct nlmsghdr *)r->b)->nlmsg_len = (unsigned int)r->n;
    if (send(s, r->b, r->n, 0) < 0)
        return errno;
    ssize_t n = recv(s, reply, BUF, 0);
    if (len)
        *len = n;
    if (n < (ssize_t)sizeof(struct nlmsghdr))
        return -1;
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (h->nlmsg_type == NLMSG_ERROR)
        return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
    return 0;
}

static void show_err(const char *what, int err)
{
    if (err > 0)
        printf("%-44s = -1 %s\n", what, strerrorname_np(err));
    else
        printf("%-44s = %d\n", what, err);
    fflush(stdout);
}

/* ifup / peerup: IFF_UP in the end's ifinfomsg (ifi_change IFF_UP), as `ip link add ... up` */
static int newveth_up(int s, const char *name, const char *peer, unsigned short flags,
                      unsigned int ifup, unsigned int peerup)
{
    struct req r;
    link_head(&r, RTM_NEWLINK, NLM_F_ACK | flags, 0, ifup, ifup);
    if (name)
        attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
    size_t li = attr_open(&r, IFLA_LINKINFO);
    attr(&r, IFLA_INFO_KIND, "veth", 4);
    size_t data = attr_open(&r, IFLA_INFO_DATA);
    size_t pe = attr_open(&r, VETH_INFO_PEER);
    struct ifinfomsg pi = {.ifi_family = AF_UNSPEC, .ifi_flags = peerup, .ifi_change = peerup};
    put(&r, &pi, sizeof pi);
    if (peer)
        attr(&r, IFLA_IFNAME, peer, strlen(peer) + 1);
    attr_close(&r, pe);
    attr_close(&r, data);
    attr_close(&r, li);
    char reply[BUF];
    return talk(s, &r, reply, NULL);
}

static int newveth(int s, const char *name, const char *peer, unsigned short flags)
{
    return newveth_up(s, name, peer, flags, 0, 0);
}

struct link {
    int err, index, type, link, mtu, txqlen, operstate, mac_ok, brd_ok;
    unsigned int flags;
    char name[IFNAMSIZ], kind[16];
};

static void parse_link(struct nlmsghdr *h, struct link *l)
{
    struct ifinfomsg *i = NLMSG_DATA(h);
    l->index = i->ifi_index;
    l->type = i->ifi_type;
    l->flags = i->ifi_flags;
    int left = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof *i);
    for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
        unsigned char *d = RTA_DATA(a);
        switch (a->rta_type) {
        case IFLA_IFNAME: snprintf(l->name, sizeof l->name, "%s", (char *)d); break;
        case IFLA_LINK: memcpy(&l->link, d, 4); break;
        case IFLA_MTU: memcpy(&l->mtu, d, 4); break;
        case IFLA_TXQLEN: memcpy(&l->txqlen, d, 4); break;
        case IFLA_OPERSTATE: l->operstate = d[0]; break;
        case IFLA_ADDRESS:      /* random, unicast, locally administered (eth_random_addr) */
            l->mac_ok = RTA_PAYLOAD(a) == 6 && (d[0] & 3) == 2;
            break;
        case IFLA_BROADCAST:
            l->brd_ok = RTA_PAYLOAD(a) == 6 && !memcmp(d, "\xff\xff\xff\xff\xff\xff", 6);
            break;
        case IFLA_LINKINFO: {
            int n = (int)RTA_PAYLOAD(a);
            for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, n); b = RTA_NEXT(b, n))
                if (b->rta_type == IFLA_INFO_KIND)
                    snprintf(l->kind, sizeof l->kind, "%.*s", (int)RTA_PAYLOAD(b),
                             (char *)RTA_DATA(b));
            break;
        }
        }
    }
}

static struct link getlink(int s, const char *name)
{
    struct req r;
    struct link l;
    memset(&l, 0, sizeof l);
    link_head(&r, RTM_GETLINK, 0, 0, 0, 0);
    attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
    char reply[BUF];
    l.err = talk(s, &r, reply, NULL);
    struct nlmsghdr *h = (struct nlmsghdr *)reply;
    if (!l.err && h->nlmsg_type == RTM_NEWLINK)
        parse_link(h, &l);
    return l;
}

/* Linux updates the operational state from a work queue: read until it stops changing */
static struct link settled(int s, const char *name)
{
    struct link a = getlink(s, name), b;
    for (int i = 0; i < 100; i++) {
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
        b = getlink(s, name);
        if (b.flags == a.flags && b.operstate == a.operstate && i >= 2)
            break;
        a = b;
    }
    return a;
}

static int ioctl_flags(const char *name, unsigned long req, short *flags)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_flags = *flags;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int r = ioctl(fd, req, &ifr);
    int e = errno;
    close(fd);
    *flags = ifr.ifr_flags;
    errno = e;
    return r;
}

static int index_of(const char *name)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int r = ioctl(fd, SIOCGIFINDEX, &ifr);
    int e = errno;
    close(fd);
    errno = e;
    return r < 0 ? r : ifr.ifr_ifindex;
}

static void state(int s, const char *a, const char *b)
{
    const char *names[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        struct link l = settled(s, names[k]);
        short f = 0;
        int r = ioctl_flags(names[k], SIOCGIFFLAGS, &f);
        printf("  %s flags=%#x operstate=%d ioctl=%d/%#x\n", names[k], l.flags,
               l.operstate, r, (unsigned short)f);
    }
    fflush(stdout);
}

static void describe(int s, const char *name, const char *peer)
{
    struct link l = getlink(s, name), p = getlink(s, peer);
    printf("  %s: err=%d type=%d flags=%#x mtu=%d txqlen=%d operstate=%d kind=%s mac_ok=%d "
           "brd_ok=%d link_is_peer=%d index_after_peer=%d ioctl_index_same=%d\n",
           name, l.err, l.type, l.flags, l.mtu, l.txqlen, l.operstate, l.kind, l.mac_ok,
           l.brd_ok, l.link == p.index && p.index > 0, l.index > p.index,
           index_of(name) == l.index);
    fflush(stdout);
}

static int setlink(int s, unsigned short type, const char *name, unsigned int flags)
{
    struct req r;
    link_head(&r, type, NLM_F_ACK, index_of(name), flags, IFF_UP);
    char reply[BUF];
    return talk(s, &r, reply, NULL);
}

static int addr(int s, const char *name, const char *ip, int plen, unsigned short flags)
{
    struct req r;
    head(&r, RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | flags);
    struct ifaddrmsg a = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)plen,
                          .ifa_index = (unsigned int)index_of(name)};
    put(&r, &a, sizeof a);
    struct in_addr in;
    inet_pton(AF_INET, ip, &in);
    attr(&r, IFA_LOCAL, &in, 4);
    attr(&r, IFA_ADDRESS, &in, 4);
    char reply[BUF];
    return talk(s, &r, reply, NULL);
}

/* send a dump request (its header and payload in r); f(h, ctx) for each answer */
static void dump(int s, struct req *r, void (*f)(struct nlmsghdr *, void *), void *ctx)
{
    ((struct nlmsghdr *)r->b)->nlmsg_len = (unsigned int)r->n;
    send(s, r->b, r->n, 0);
    char reply[BUF];
    for (int done = 0; !done;) {
        ssize_t n = recv(s, reply, sizeof reply, 0);
        if (n <= 0)
            break;
        int left = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, left);
             h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            f(h, ctx);
        }
    }
}

struct pair {
    const char *name[2];
    int index[2];
};

static void show_addr(struct nlmsghdr *h, void *ctx)
{
    struct pair *p = ctx;
    struct ifaddrmsg *f = NLMSG_DATA(h);
    int k = (int)f->ifa_index == p->index[0] ? 0 : (int)f->ifa_index == p->index[1] ? 1 : -1;
    if (k < 0)
        return;
    char ip[INET_ADDRSTRLEN] = "?", label[IFNAMSIZ] = "?";
    int alen = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof *f);
    for (struct rtattr *t = IFA_RTA(f); RTA_OK(t, alen); t = RTA_NEXT(t, alen)) {
        if (t->rta_type == IFA_LOCAL)
            inet_ntop(AF_INET, RTA_DATA(t), ip, sizeof ip);
        if (t->rta_type == IFA_LABEL)
            snprintf(label, sizeof label, "%s", (char *)RTA_DATA(t));
    }
    printf("  addr %s/%d on %s label %s scope %d\n", ip, f->ifa_prefixlen, p->name[k], label,
           f->ifa_scope);
}

static void addrs(int s, const char *a, const char *b)
{
    struct pair p = {{a, b}, {index_of(a), index_of(b)}};
    struct req r;
    head(&r, RTM_GETADDR, NLM_F_DUMP);
    struct ifaddrmsg m = {.ifa_family = AF_INET};
    put(&r, &m, sizeof m);
    dump(s, &r, show_addr, &p);
    fflush(stdout);
}

static int dellink(int s, const char *name)
{
    struct req r;
    link_head(&r, RTM_DELLINK, NLM_F_ACK, 0, 0, 0);
    attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
    char reply[BUF];
    return talk(s, &r, reply, NULL);
}

struct names {
    char name[2][IFNAMSIZ];
    int n;
};

static void other_veth(struct nlmsghdr *h, void *ctx)
{
    struct names *v = ctx;
    struct link l;
    memset(&l, 0, sizeof l);
    parse_link(h, &l);
    if (!strcmp(l.kind, "veth") && strncmp(l.name, "rnv", 3) && v->n < 2)
        snprintf(v->name[v->n++], IFNAMSIZ, "%s", l.name);
}

/* the names of the veth devices other than rnv*, in index order */
static void auto_named(int s, struct names *v)
{
    struct req r;
    link_head(&r, RTM_GETLINK, NLM_F_DUMP, 0, 0, 0);
    dump(s, &r, other_veth, v);
}

static void without_net_admin(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    d[0].effective &= ~(1u << CAP_NET_ADMIN);
    show("capset without CAP_NET_ADMIN", syscall(SYS_capset, &h, d));
    int s = nl_open();
    show_err("RTM_NEWLINK veth rnv0+rnv1", newveth(s, "rnv0", "rnv1",
                                                   NLM_F_CREATE | NLM_F_EXCL));
    show_err("RTM_DELLINK rnv0", dellink(s, "rnv0"));
    show_err("RTM_SETLINK rnv0 up", setlink(s, RTM_SETLINK, "rnv0", IFF_UP));
    short f = IFF_UP;
    show("SIOCSIFFLAGS rnv0 up", ioctl_flags("rnv0", SIOCSIFFLAGS, &f));
    show_err("RTM_NEWADDR 10.77.0.3/24 on rnv0", addr(s, "rnv0", "10.77.0.3", 24, 0));
    close(s);
}

int main(void)
{
    int s = nl_open();
    show_err("RTM_NEWLINK veth rnv0+rnv1", newveth(s, "rnv0", "rnv1",
                                                   NLM_F_CREATE | NLM_F_EXCL));
    show_err("again (NLM_F_EXCL)", newveth(s, "rnv0", "rnv1", NLM_F_CREATE | NLM_F_EXCL));
    show_err("peer name taken", newveth(s, "rnv2", "rnv1", NLM_F_CREATE | NLM_F_EXCL));
    show_err("without NLM_F_CREATE", newveth(s, "rnv2", "rnv3", 0));
    show_err("getlink rnv2", getlink(s, "rnv2").err);
    describe(s, "rnv0", "rnv1");
    describe(s, "rnv1", "rnv0");

    puts("-- admin state");
    short f = 0;
    ioctl_flags("rnv0", SIOCGIFFLAGS, &f);
    f |= IFF_UP;
    show("SIOCSIFFLAGS rnv0 up", ioctl_flags("rnv0", SIOCSIFFLAGS, &f));
    state(s, "rnv0", "rnv1");
    show_err("RTM_NEWLINK rnv1 up", setlink(s, RTM_NEWLINK, "rnv1", IFF_UP));
    state(s, "rnv0", "rnv1");
    show_err("RTM_SETLINK rnv1 down", setlink(s, RTM_SETLINK, "rnv1", 0));
    state(s, "rnv0", "rnv1");
    show_err("RTM_SETLINK rnv1 up", setlink(s, RTM_SETLINK, "rnv1", IFF_UP));
    state(s, "rnv0", "rnv1");
    ioctl_flags("rnv0", SIOCGIFFLAGS, &f);
    f &= ~IFF_UP;
    show("SIOCSIFFLAGS rnv0 down", ioctl_flags("rnv0", SIOCSIFFLAGS, &f));
    state(s, "rnv0", "rnv1");

    puts("-- addresses");
    show_err("RTM_NEWADDR 10.77.0.1/24 on rnv0", addr(s, "rnv0", "10.77.0.1", 24, 0));
    show_err("RTM_NEWADDR 10.77.0.2/24 on rnv1", addr(s, "rnv1", "10.77.0.2", 24, 0));
    show_err("again (NLM_F_EXCL)", addr(s, "rnv1", "10.77.0.2", 24, NLM_F_EXCL));
    addrs(s, "rnv0", "rnv1");

    puts("-- without names");
    show_err("RTM_NEWLINK veth", newveth(s, NULL, NULL, NLM_F_CREATE | NLM_F_EXCL));
    struct names v = {{"", ""}, 0};
    auto_named(s, &v);
    printf("  named %s %s\n", v.name[0], v.name[1]);
    describe(s, v.name[1], v.name[0]);
    show_err("RTM_DELLINK the first", dellink(s, v.name[0]));
    show_err("getlink the second", getlink(s, v.name[1]).err);

    puts("-- made up");
    show_err("RTM_NEWLINK veth rnv4 (up)+rnv5",
             newveth_up(s, "rnv4", "rnv5", NLM_F_CREATE | NLM_F_EXCL, IFF_UP, 0));
    state(s, "rnv4", "rnv5");
    show_err("RTM_NEWLINK veth rnv6 (up)+rnv7 (up)",
             newveth_up(s, "rnv6", "rnv7", NLM_F_CREATE | NLM_F_EXCL, IFF_UP, IFF_UP));
    state(s, "rnv6", "rnv7");
    show_err("RTM_DELLINK rnv5", dellink(s, "rnv5"));
    show_err("RTM_DELLINK rnv7", dellink(s, "rnv7"));

    if (fork() == 0) {
        without_net_admin();
        _exit(0);
    }
    wait(NULL);

    puts("-- removal");
    show_err("RTM_DELLINK rnv0", dellink(s, "rnv0"));
    show_err("getlink rnv0", getlink(s, "rnv0").err);
    show_err("getlink rnv1", getlink(s, "rnv1").err);
    show("SIOCGIFINDEX rnv1", index_of("rnv1"));
    show_err("RTM_DELLINK rnv0 again", dellink(s, "rnv0"));
    show_err("RTM_DELLINK lo", dellink(s, "lo"));
    f = IFF_UP;
    show("SIOCSIFFLAGS rnv0 up", ioctl_flags("rnv0", SIOCSIFFLAGS, &f));
    close(s);
    return 0;
}
