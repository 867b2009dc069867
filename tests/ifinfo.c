/* ifinfo.c - print what a program learns about the network interfaces: getifaddrs(),
 * if_nameindex(), if_nametoindex/if_indextoname, and the SIOCGIF* ioctls on an AF_INET
 * datagram socket.  Run natively and under the shim (tests/test_ifinfo.py). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *ip(const struct sockaddr *sa, char *buf, size_t n)
{
    if (sa == NULL)
        return "-";
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                         (socklen_t)n);
    if (sa->sa_family == AF_PACKET) {
        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)sa;
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < ll->sll_halen && k + 4 < n; i++)
            k += (size_t)snprintf(buf + k, n - k, "%s%02x", i ? ":" : "", ll->sll_addr[i]);
        return buf;
    }
    snprintf(buf, n, "family%d", sa->sa_family);
    return buf;
}

static void one_ioctl(int fd, const char *name, unsigned long req, const char *what)
{
    struct ifreq ifr;
    char b[64];
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, req, &ifr) < 0) {
        printf("ioctl %s %s -1 %s\n", what, name, strerrorname_np(errno));
        return;
    }
    if (req == SIOCGIFINDEX)
        printf("ioctl %s %s %d\n", what, name, ifr.ifr_ifindex);
    else if (req == SIOCGIFFLAGS)
        printf("ioctl %s %s %#x\n", what, name, (unsigned)(unsigned short)ifr.ifr_flags);
    else if (req == SIOCGIFMTU)
        printf("ioctl %s %s %d\n", what, name, ifr.ifr_mtu);
    else if (req == SIOCGIFHWADDR) {
        const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;
        printf("ioctl %s %s %d %02x:%02x:%02x:%02x:%02x:%02x\n", what, name,
               ifr.ifr_hwaddr.sa_family, m[0], m[1], m[2], m[3], m[4], m[5]);
    } else
        printf("ioctl %s %s %s\n", what, name, ip(&ifr.ifr_addr, b, sizeof b));
}

int main(void)
{
    char b1[64], b2[64], b3[64];
    struct ifaddrs *ifa;
    if (getifaddrs(&ifa) < 0) {
        printf("getifaddrs -1 %s\n", strerrorname_np(errno));
    } else {
        for (struct ifaddrs *p = ifa; p; p = p->ifa_next)
            printf("ifaddr %s %d %s mask %s brd %s flags %#x\n", p->ifa_name,
                   p->ifa_addr ? p->ifa_addr->sa_family : -1, ip(p->ifa_addr, b1, sizeof b1),
                   ip(p->ifa_netmask, b2, sizeof b2),
                   (p->ifa_flags & IFF_BROADCAST) ? ip(p->ifa_broadaddr, b3, sizeof b3) : "-",
                   p->ifa_flags);
        freeifaddrs(ifa);
    }
    struct if_nameindex *ix = if_nameindex();
    if (ix == NULL) {
        printf("if_nameindex NULL %s\n", strerrorname_np(errno));
    } else {
        for (struct if_nameindex *p = ix; p->if_index; p++)
            printf("nameindex %u %s\n", p->if_index, p->if_name);
        if_freenameindex(ix);
    }
    unsigned lo = if_nametoindex("lo");
    printf("nametoindex lo %u\n", lo);
    errno = 0;
    unsigned none = if_nametoindex("nosuch0");
    printf("nametoindex nosuch0 %u %s\n", none, strerrorname_np(errno));
    char nb[IF_NAMESIZE];
    printf("indextoname %u %s\n", lo, if_indextoname(lo, nb) ? nb : "NULL");
    errno = 0;
    const char *nn = if_indextoname(9999, nb);
    printf("indextoname 9999 %s %s\n", nn ? nn : "NULL", strerrorname_np(errno));

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    struct ifconf ifc;
    memset(&ifc, 0, sizeof ifc);
    ifc.ifc_buf = NULL;
    if (ioctl(fd, SIOCGIFCONF, &ifc) < 0)
        printf("ifconf -1 %s\n", strerrorname_np(errno));
    printf("ifconf size %d\n", ifc.ifc_len / (int)sizeof(struct ifreq));
    struct ifreq reqs[32];
    ifc.ifc_len = sizeof reqs;
    ifc.ifc_req = reqs;
    if (ioctl(fd, SIOCGIFCONF, &ifc) < 0) {
        printf("ifconf -1 %s\n", strerrorname_np(errno));
        ifc.ifc_len = 0;
    }
    int n = ifc.ifc_len / (int)sizeof(struct ifreq);
    for (int i = 0; i < n; i++)
        printf("ifconf %s %s\n", reqs[i].ifr_name, ip(&reqs[i].ifr_addr, b1, sizeof b1));
    /* too small for one entry: nothing copied */
    ifc.ifc_len = (int)sizeof(struct ifreq) - 1;
    if (ioctl(fd, SIOCGIFCONF, &ifc) == 0)
        printf("ifconf short %d\n", ifc.ifc_len);
    struct if_nameindex *all = if_nameindex();
    for (struct if_nameindex *p = all; p && p->if_index; p++) {
        const char *name = p->if_name;
        one_ioctl(fd, name, SIOCGIFINDEX, "index");
        one_ioctl(fd, name, SIOCGIFFLAGS, "flags");
        one_ioctl(fd, name, SIOCGIFMTU, "mtu");
        one_ioctl(fd, name, SIOCGIFHWADDR, "hwaddr");
        one_ioctl(fd, name, SIOCGIFADDR, "addr");
        one_ioctl(fd, name, SIOCGIFNETMASK, "netmask");
        one_ioctl(fd, name, SIOCGIFBRDADDR, "brdaddr");
        struct ifreq r;
        memset(&r, 0, sizeof r);
        r.ifr_ifindex = (int)p->if_index;
        if (ioctl(fd, SIOCGIFNAME, &r) == 0)
            printf("ioctl name %u %s\n", p->if_index, r.ifr_name);
    }
    if (all)
        if_freenameindex(all);
    one_ioctl(fd, "nosuch0", SIOCGIFINDEX, "index");
    one_ioctl(fd, "nosuch0", SIOCGIFMTU, "mtu");
    struct ifreq r;
    memset(&r, 0, sizeof r);
    r.ifr_ifindex = 9999;
    int rc = ioctl(fd, SIOCGIFNAME, &r);
    printf("ioctl name 9999 %d %s\n", rc, strerrorname_np(errno));
    rc = ioctl(fd, SIOCGIFINDEX, (void *)-1);
    printf("ioctl efault %d %s\n", rc, strerrorname_np(errno));
    struct ifconf bad = {.ifc_len = 40, .ifc_buf = (char *)-1};
    rc = ioctl(fd, SIOCGIFCONF, &bad);
    printf("ioctl ifconf efault %d %s\n", rc, strerrorname_np(errno));
    int avail = -1;
    rc = ioctl(fd, FIONREAD, &avail);
    printf("fionread %d %d\n", rc, avail);
    close(fd);
    return 0;
}
