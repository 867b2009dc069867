/* mcast_tcp: IP-level multicast membership options on TCP sockets (Linux accepts
 * them on any inet socket; LTP's accept02 joins on a listener and checks that the
 * accepted socket did not inherit the membership).  Prints return values and errno
 * names only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static struct group_req greq(const char *ip)
{
    struct group_req g;
    memset(&g, 0, sizeof g);
    struct sockaddr_in *a = (struct sockaddr_in *)&g.gr_group;
    a->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &a->sin_addr);
    return g;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct group_req g = greq("224.0.0.1");
    show("MCAST_JOIN_GROUP 224.0.0.1", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("MCAST_JOIN_GROUP again", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("MCAST_JOIN_GROUP short optlen", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &g, 8));
    struct group_req u = greq("10.1.2.3");
    show("MCAST_JOIN_GROUP unicast group", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &u, sizeof u));
    struct group_req f = greq("224.0.0.9");
    f.gr_group.ss_family = AF_INET6;
    show("MCAST_JOIN_GROUP family AF_INET6", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &f, sizeof f));
    show("MCAST_LEAVE_GROUP 224.0.0.1", setsockopt(fd, SOL_IP, MCAST_LEAVE_GROUP, &g, sizeof g));
    show("MCAST_LEAVE_GROUP again", setsockopt(fd, SOL_IP, MCAST_LEAVE_GROUP, &g, sizeof g));

    struct ip_mreq m;
    memset(&m, 0, sizeof m);
    inet_pton(AF_INET, "224.0.0.2", &m.imr_multiaddr);
    show("IP_ADD_MEMBERSHIP 224.0.0.2", setsockopt(fd, SOL_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("IP_ADD_MEMBERSHIP again", setsockopt(fd, SOL_IP, IP_ADD_MEMBERSHIP, &m, sizeof m));
    show("IP_ADD_MEMBERSHIP short optlen", setsockopt(fd, SOL_IP, IP_ADD_MEMBERSHIP, &m, 4));
    show("IP_DROP_MEMBERSHIP", setsockopt(fd, SOL_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));
    show("IP_DROP_MEMBERSHIP again", setsockopt(fd, SOL_IP, IP_DROP_MEMBERSHIP, &m, sizeof m));

    /* membership is not inherited by accepted sockets */
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    show("bind", bind(fd, (struct sockaddr *)&a, sizeof a));
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    show("MCAST_JOIN_GROUP on listener", setsockopt(fd, SOL_IP, MCAST_JOIN_GROUP, &g, sizeof g));
    show("listen", listen(fd, 1));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int n = accept(fd, NULL, NULL);
    show("accept >= 0", n < 0 ? -1 : 0);
    show("MCAST_LEAVE_GROUP on accepted", setsockopt(n, SOL_IP, MCAST_LEAVE_GROUP, &g, sizeof g));
    show("MCAST_LEAVE_GROUP on listener", setsockopt(fd, SOL_IP, MCAST_LEAVE_GROUP, &g, sizeof g));
    close(n);
    close(c);
    close(fd);
    return 0;
}
