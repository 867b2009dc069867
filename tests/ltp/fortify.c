/* fortify: glibc's _FORTIFY_SOURCE turns read/recv/recvfrom with a buffer of known size
 * into __read_chk/__recv_chk/__recvfrom_chk; on TCP and UDP sockets they must behave
 * as the plain calls (payload only, same return values and errnos). */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
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

static void wait_in(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, 3000);
}

static void got(const char *what, long r, const char *buf)
{
    show(what, r);
    if (r > 0)
        printf("  data %.*s\n", (int)r, buf);
}

/* a length the compiler cannot see: the calls become the checking variants */
static volatile size_t g_len = 32;

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char buf[32];
    size_t n = g_len;
    struct sockaddr_in a, from;
    socklen_t fl;

    /* TCP */
    int l = loopback_listener(&a, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("recv on an unconnected socket", recv(c, buf, n, MSG_DONTWAIT));
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);
    send(s, "tcp-read", 8, 0);
    wait_in(c);
    got("read", read(c, buf, n), buf);
    send(s, "tcp-recv", 8, 0);
    wait_in(c);
    got("recv", recv(c, buf, n, 0), buf);
    send(s, "tcp-recvfrom", 12, 0);
    wait_in(c);
    fl = sizeof from;
    got("recvfrom", recvfrom(c, buf, n, 0, (struct sockaddr *)&from, &fl), buf);
    show("recv MSG_DONTWAIT (empty)", recv(c, buf, n, MSG_DONTWAIT));
    close(s);
    wait_in(c);
    show("read after the peer closed", read(c, buf, n));
    close(c);
    close(l);

    /* UDP */
    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(u1, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(u1, (struct sockaddr *)&a, &al);
    sendto(u2, "udp-read", 8, 0, (struct sockaddr *)&a, sizeof a);
    wait_in(u1);
    got("read", read(u1, buf, n), buf);
    sendto(u2, "udp-recv", 8, 0, (struct sockaddr *)&a, sizeof a);
    wait_in(u1);
    got("recv", recv(u1, buf, n, 0), buf);
    sendto(u2, "udp-recvfrom", 12, 0, (struct sockaddr *)&a, sizeof a);
    wait_in(u1);
    fl = sizeof from;
    got("recvfrom", recvfrom(u1, buf, n, 0, (struct sockaddr *)&from, &fl), buf);
    printf("  from %s, length %u\n", from.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "lo" : "?",
           (unsigned)fl);
    sendto(u2, "0123456789abcdef", 16, 0, (struct sockaddr *)&a, sizeof a);
    wait_in(u1);
    char small[4];
    got("recv into 4 bytes (truncated)", recv(u1, small, n / 8, 0), small);
    show("recv MSG_DONTWAIT (empty)", recv(u1, buf, n, MSG_DONTWAIT));
    close(u1);
    close(u2);
    return 0;
}
