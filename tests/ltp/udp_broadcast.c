/* udp_broadcast: SO_BROADCAST on loopback's directed broadcast 127.255.255.255 (the
 * limited broadcast 255.255.255.255 depends on the machine's routes and would leave it:
 * the stack tests cover it).  EACCES without SO_BROADCAST (sendto and connect); binding
 * to the broadcast address; delivery to every socket bound to the port that covers the
 * address (INADDR_ANY, the broadcast address, a dual-stack [::]), not to 127.0.0.1. */
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

static int bound(int fam, const char *ip, unsigned short port)
{
    int s = socket(fam, SOCK_DGRAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int r;
    if (fam == AF_INET) {
        struct sockaddr_in a = v4(ip, port);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in6 a;
        memset(&a, 0, sizeof a);
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(port);
        r = bind(s, (struct sockaddr *)&a, sizeof a);
    }
    char what[64];
    snprintf(what, sizeof what, "bind(%s)", ip);
    show(what, r);
    return s;
}

/* what fd received: waits (bounded) for the first datagram, then takes what is queued */
static void drain(const char *who, int fd, int expect)
{
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, expect ? 2000 : 200);
    usleep(20000);
    printf("%s:", who);
    char buf[64];
    struct sockaddr_storage from;
    for (;;) {
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n < 0)
            break;
        buf[n] = 0;
        printf(" '%s'", buf);
    }
    printf("\n");
}

int main(void)
{
    int lo = bound(AF_INET, "127.0.0.1", 0);
    struct sockaddr_in pa;
    socklen_t pl = sizeof pa;
    getsockname(lo, (struct sockaddr *)&pa, &pl);
    unsigned short port = ntohs(pa.sin_port);
    int any = bound(AF_INET, "0.0.0.0", port);
    int bc = bound(AF_INET, "127.255.255.255", port);
    int six = bound(AF_INET6, "::", port);

    struct sockaddr_in to = v4("127.255.255.255", port);
    int s = socket(AF_INET, SOCK_DGRAM, 0), v = -1;
    socklen_t vl = sizeof v;
    show("getsockopt(SO_BROADCAST)", getsockopt(s, SOL_SOCKET, SO_BROADCAST, &v, &vl));
    printf("  value=%d\n", v);
    show("sendto(broadcast, no SO_BROADCAST)",
         sendto(s, "no", 2, 0, (struct sockaddr *)&to, sizeof to));
    show("connect(broadcast, no SO_BROADCAST)", connect(s, (struct sockaddr *)&to, sizeof to));
    int one = 1;
    show("setsockopt(SO_BROADCAST)", setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one));
    show("sendto(broadcast)", sendto(s, "bcast", 5, 0, (struct sockaddr *)&to, sizeof to));
    show("connect(broadcast)", connect(s, (struct sockaddr *)&to, sizeof to));
    show("send(connected to broadcast)", send(s, "conn", 4, 0));
    drain("INADDR_ANY", any, 1);
    drain("127.255.255.255", bc, 1);
    drain("[::]", six, 1);
    drain("127.0.0.1", lo, 0);

    /* unicast to 127.0.0.1 goes to the one socket bound there, not to the broadcast one */
    struct sockaddr_in u = v4("127.0.0.1", port);
    show("sendto(127.0.0.1)", sendto(s, "uni", 3, 0, (struct sockaddr *)&u, sizeof u));
    drain("127.0.0.1 (unicast)", lo, 1);
    drain("127.255.255.255 (unicast)", bc, 0);
    return 0;
}
