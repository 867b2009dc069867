/* udp_cork: UDP corking as Linux does it. Parts sent with MSG_MORE (send, sendto, sendmsg)
 * or while UDP_CORK is on join one datagram, which keeps the first part's destination and
 * leaves whole with the first part sent without MSG_MORE, or when UDP_CORK goes off.
 * Nothing arrives while the datagram is pending. Prints sizes, bytes and errno names. */
#define _GNU_SOURCE
#include <netinet/udp.h>
#include <poll.h>
#include <unistd.h>

#include "conformance.h"

static int bound_udp(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (struct sockaddr *)a, sizeof *a);
    socklen_t l = sizeof *a;
    getsockname(s, (struct sockaddr *)a, &l);
    return s;
}

/* what arrives at r: waits (bounded) when something is expected, else looks once */
static void arrivals(const char *what, int r, int expect)
{
    struct pollfd p = {r, POLLIN, 0};
    poll(&p, 1, expect ? 2000 : 100);
    char b[256];
    memset(b, 0, sizeof b);
    long n = recv(r, b, sizeof b - 1, MSG_DONTWAIT);
    show(what, n);
    if (n > 0)
        printf("  data '%s'\n", b);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in ra, rb;
    int r = bound_udp(&ra), r2 = bound_udp(&rb);
    int s = socket(AF_INET, SOCK_DGRAM, 0);

    show("sendto MSG_MORE 'ab'", sendto(s, "ab", 2, MSG_MORE, (struct sockaddr *)&ra, sizeof ra));
    arrivals("recv while pending", r, 0);
    show("sendto other dest MSG_MORE 'cd'",
         sendto(s, "cd", 2, MSG_MORE, (struct sockaddr *)&rb, sizeof rb));
    show("sendto other dest 'ef'", sendto(s, "ef", 2, 0, (struct sockaddr *)&rb, sizeof rb));
    arrivals("recv first dest", r, 1);
    arrivals("recv other dest", r2, 0);

    show("connect", connect(s, (struct sockaddr *)&ra, sizeof ra));
    show("send MSG_MORE 'gh'", send(s, "gh", 2, MSG_MORE));
    struct iovec iov[2] = {{"ij", 2}, {"kl", 2}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    show("sendmsg MSG_MORE 'ijkl'", sendmsg(s, &m, MSG_MORE));
    arrivals("recv while pending", r, 0);
    show("send 'mn'", send(s, "mn", 2, 0));
    arrivals("recv joined", r, 1);

    int one = 1, zero = 0, v = -1;
    socklen_t vl = sizeof v;
    show("UDP_CORK 1", setsockopt(s, IPPROTO_UDP, UDP_CORK, &one, sizeof one));
    show("getsockopt UDP_CORK", getsockopt(s, IPPROTO_UDP, UDP_CORK, &v, &vl));
    printf("  value %d\n", v);
    show("send 'op' corked", send(s, "op", 2, 0));
    show("send 'qr' corked", send(s, "qr", 2, 0));
    arrivals("recv while corked", r, 0);
    show("UDP_CORK 0", setsockopt(s, IPPROTO_UDP, UDP_CORK, &zero, sizeof zero));
    arrivals("recv after uncork", r, 1);
    show("send 'st'", send(s, "st", 2, 0));
    arrivals("recv plain", r, 1);
    close(s);
    close(r);
    close(r2);
    return 0;
}
