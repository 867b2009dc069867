/* udp_mcast: IPv4/IPv6 multicast options on UDP sockets: values and errnos, as Linux
 * answers them.  (Delivery is tested in tests/stack/test_udp_mcast.py: natively, a
 * group datagram looped through lo arrives asynchronously and sometimes twice, so its
 * output cannot be compared line for line.)  Prints return values and errno names. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

#define PORT 45454
static void getint(const char *what, int fd, int level, int name, socklen_t len)
{
    unsigned char v[16];
    memset(v, 0xee, sizeof v);
    int r = getsockopt(fd, level, name, v, &len);
    if (r < 0) {
        show(what, r);
        return;
    }
    int x = len >= 4 ? (int)(v[0] | v[1] << 8 | v[2] << 16 | (unsigned)v[3] << 24) : v[0];
    printf("%-44s = %d (len %u)\n", what, x, (unsigned)len);
}

static void options(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int v;
    unsigned char c;
    getint("IP_MULTICAST_LOOP default", s, IPPROTO_IP, IP_MULTICAST_LOOP, 4);
    getint("IP_MULTICAST_LOOP default (len 1)", s, IPPROTO_IP, IP_MULTICAST_LOOP, 1);
    getint("IP_MULTICAST_TTL default", s, IPPROTO_IP, IP_MULTICAST_TTL, 4);
    getint("IP_MULTICAST_ALL default", s, IPPROTO_IP, IP_MULTICAST_ALL, 4);
    getint("IP_MULTICAST_IF default", s, IPPROTO_IP, IP_MULTICAST_IF, 12);
    v = -1;
    show("IP_MULTICAST_TTL -1", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &v, 4));
    getint("IP_MULTICAST_TTL", s, IPPROTO_IP, IP_MULTICAST_TTL, 4);
    v = 256;
    show("IP_MULTICAST_TTL 256", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &v, 4));
    v = -2;
    show("IP_MULTICAST_TTL -2", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &v, 4));
    c = 5;
    show("IP_MULTICAST_TTL 5 (char)", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &c, 1));
    getint("IP_MULTICAST_TTL", s, IPPROTO_IP, IP_MULTICAST_TTL, 4);
    show("IP_MULTICAST_TTL optlen 0", setsockopt(s, IPPROTO_IP, IP_MULTICAST_TTL, &c, 0));
    v = 7;
    show("IP_MULTICAST_LOOP 7", setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &v, 4));
    getint("IP_MULTICAST_LOOP", s, IPPROTO_IP, IP_MULTICAST_LOOP, 4);
    v = 2;
    show("IP_MULTICAST_ALL 2", setsockopt(s, IPPROTO_IP, IP_MULTICAST_ALL, &v, 4));

    struct ip_mreq m;
    memset(&m, 0, sizeof m);
    inet_pton(AF_INET, "224.1.2.3", &m.imr_multiaddr);
    m.imr_interface.s_addr = htonl(INADDR_LOOPBACK);
    show("IP_ADD_MEMBERSHIP on 127.0.0.1", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("IP_ADD_MEMBERSHIP again", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("IP_ADD_MEMBERSHIP optlen 7", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, 7));
    show("IP_DROP_MEMBERSHIP", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    show("IP_DROP_MEMBERSHIP again", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    struct ip_mreq u = m;
    inet_pton(AF_INET, "10.1.2.3", &u.imr_multiaddr);
    show("IP_ADD_MEMBERSHIP unicast group", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &u, sizeof u));
    show("IP_DROP_MEMBERSHIP unicast group", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &u, sizeof u));
    struct ip_mreq b = m;
    inet_pton(AF_INET, "10.9.9.9", &b.imr_interface);
    show("IP_ADD_MEMBERSHIP foreign interface addr", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &b, sizeof b));
    struct ip_mreqn n;
    memset(&n, 0, sizeof n);
    n.imr_multiaddr = m.imr_multiaddr;
    n.imr_ifindex = 99;
    show("IP_ADD_MEMBERSHIP mreqn ifindex 99", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &n, sizeof n));
    n.imr_ifindex = 1;
    show("IP_ADD_MEMBERSHIP mreqn ifindex 1", setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &n, sizeof n));
    show("IP_DROP_MEMBERSHIP mreq 127.0.0.1", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));

    struct in_addr lo = {htonl(INADDR_LOOPBACK)}, bad;
    inet_pton(AF_INET, "10.9.9.9", &bad);
    show("IP_MULTICAST_IF 127.0.0.1", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo));
    getint("IP_MULTICAST_IF", s, IPPROTO_IP, IP_MULTICAST_IF, 12);
    show("IP_MULTICAST_IF 10.9.9.9", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &bad, sizeof bad));
    show("IP_MULTICAST_IF optlen 3", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &bad, 3));
    n.imr_ifindex = 99;
    show("IP_MULTICAST_IF mreqn ifindex 99", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &n, sizeof n));
    n.imr_ifindex = 1;
    show("IP_MULTICAST_IF mreqn ifindex 1", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &n, sizeof n));
    getint("IP_MULTICAST_IF", s, IPPROTO_IP, IP_MULTICAST_IF, 12);
    struct in_addr z = {0};
    show("IP_MULTICAST_IF 0.0.0.0", setsockopt(s, IPPROTO_IP, IP_MULTICAST_IF, &z, sizeof z));

    struct group_req g;
    memset(&g, 0, sizeof g);
    struct sockaddr_in *ga = (struct sockaddr_in *)&g.gr_group;
    ga->sin_family = AF_INET;
    ga->sin_addr = m.imr_multiaddr;
    g.gr_interface = 99;
    show("MCAST_JOIN_GROUP ifindex 99", setsockopt(s, IPPROTO_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    g.gr_interface = 1;
    show("MCAST_JOIN_GROUP ifindex 1", setsockopt(s, IPPROTO_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("MCAST_JOIN_GROUP again", setsockopt(s, IPPROTO_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("IP_DROP_MEMBERSHIP mreq 127.0.0.1", setsockopt(s, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    show("MCAST_LEAVE_GROUP ifindex 1", setsockopt(s, IPPROTO_IP, MCAST_LEAVE_GROUP, &g, sizeof g));
    show("MCAST_JOIN_GROUP short", setsockopt(s, IPPROTO_IP, MCAST_JOIN_GROUP, &g, 8));
    close(s);

    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    getint("IPV6_MULTICAST_LOOP default", s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 4);
    getint("IPV6_MULTICAST_HOPS default", s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 4);
    getint("IPV6_MULTICAST_IF default", s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, 4);
    struct ipv6_mreq m6;
    memset(&m6, 0, sizeof m6);
    inet_pton(AF_INET6, "ff02::1:3", &m6.ipv6mr_multiaddr);
    m6.ipv6mr_interface = 1;
    show("IPV6_JOIN_GROUP lo", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    show("IPV6_JOIN_GROUP again", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    show("IPV6_JOIN_GROUP optlen 16", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, 16));
    show("IPV6_LEAVE_GROUP", setsockopt(s6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    show("IPV6_LEAVE_GROUP again", setsockopt(s6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    m6.ipv6mr_interface = 99;
    show("IPV6_JOIN_GROUP ifindex 99", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    m6.ipv6mr_interface = 1;
    inet_pton(AF_INET6, "fd00::5", &m6.ipv6mr_multiaddr);
    show("IPV6_JOIN_GROUP unicast", setsockopt(s6, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m6, sizeof m6));
    show("IPV6_LEAVE_GROUP unicast", setsockopt(s6, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m6, sizeof m6));
    v = 1;
    int via_lo = setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &v, 4);
    show("IPV6_MULTICAST_IF 1", via_lo);
    getint("IPV6_MULTICAST_IF", s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, 4);
    v = 99;
    show("IPV6_MULTICAST_IF 99", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_IF, &v, 4));
    v = 2;
    show("IPV6_MULTICAST_LOOP 2", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, 4));
    v = 0;
    show("IPV6_MULTICAST_LOOP 0", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &v, 4));
    getint("IPV6_MULTICAST_LOOP", s6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 4);
    v = -1;
    show("IPV6_MULTICAST_HOPS -1", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, 4));
    getint("IPV6_MULTICAST_HOPS", s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 4);
    v = 256;
    show("IPV6_MULTICAST_HOPS 256", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, 4));
    show("IPV6_MULTICAST_HOPS optlen 2", setsockopt(s6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &v, 2));
    /* Linux sends no IPv6 multicast out of lo */
    struct sockaddr_in6 d6 = {.sin6_family = AF_INET6, .sin6_port = htons(PORT)};
    inet_pton(AF_INET6, "ff02::1:3", &d6.sin6_addr);
    if (via_lo == 0)
        show("sendto(ff02::1:3) via lo", sendto(s6, "x", 1, 0, (struct sockaddr *)&d6, sizeof d6));
    else /* qemu-user refuses IPV6_MULTICAST_IF: where it goes is the machine's routes' choice */
        printf("sendto(ff02::1:3): lo not chosen\n");
    close(s6);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    options();
    return 0;
}
