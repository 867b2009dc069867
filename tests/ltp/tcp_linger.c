/* tcp_linger: SO_LINGER on TCP.  {1, secs}: close() returns once what was sent (and the
 * FIN) is acknowledged, so the peer can read it all and the EOF at once; {1, 0}: close()
 * resets the connection.  Prints return values, errno names and byte counts only. */
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

static int pair(int l, struct sockaddr_in *a, int *s)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)a, sizeof *a));
    *s = accept(l, NULL, NULL);
    return c;
}

static void drain_now(const char *what, int fd)
{
    char buf[4096];
    long total = 0, r;
    while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        total += r;
    printf("%s: %ld bytes, then ", what, total);
    show("recv", r);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    static char data[20000];
    memset(data, 'x', sizeof data);

    /* linger with a timeout: close waits for the acknowledgement */
    int s, c = pair(l, &a, &s);
    struct linger lg = {1, 5};
    show("setsockopt SO_LINGER {1, 5}", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    memset(&lg, 0, sizeof lg);
    socklen_t ll = sizeof lg;
    show("getsockopt SO_LINGER", getsockopt(c, SOL_SOCKET, SO_LINGER, &lg, &ll));
    printf("  l_onoff %d l_linger %d\n", lg.l_onoff, lg.l_linger);
    show("send", send(c, data, sizeof data, 0));
    show("close with linger", close(c));
    drain_now("peer right after close", s);
    close(s);

    /* a dup keeps the socket open: close returns at once, the peer sees no EOF */
    c = pair(l, &a, &s);
    lg.l_onoff = 1;
    lg.l_linger = 5;
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int d = dup(c);
    show("close one of two references", close(c));
    show("send on the dup", send(d, "hi", 2, 0));
    struct pollfd p = {s, POLLIN, 0};
    poll(&p, 1, 3000);
    char buf[16];
    show("peer recv", recv(s, buf, sizeof buf, 0));
    show("close the last reference", close(d));
    drain_now("peer after the last close", s);
    close(s);

    /* linger 0: reset */
    c = pair(l, &a, &s);
    show("send", send(c, "abc", 3, 0));
    p.fd = s;
    poll(&p, 1, 3000);
    show("peer recv", recv(s, buf, sizeof buf, 0));
    lg.l_onoff = 1;
    lg.l_linger = 0;
    show("setsockopt SO_LINGER {1, 0}", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    show("close with linger 0", close(c));
    poll(&p, 1, 3000);
    printf("  revents POLLIN %d POLLHUP %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLHUP));
    /* (ECONNRESET natively; a peer that never wrote sees EOF under rocketnet: see README) */
    printf("  peer recv after RST ends the stream: %d\n", recv(s, buf, sizeof buf, 0) <= 0);
    show("peer send after RST", send(s, "x", 1, MSG_NOSIGNAL));
    close(s);
    close(l);
    return 0;
}
