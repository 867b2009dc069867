/* msg_more: TCP send(MSG_MORE) holds data back until a send (or write) without it,
 * as LTP's send02 checks, or until the probe timer (200 ms on loopback) sends it, as
 * with TCP_CORK.  Prints return values, errno names and byte counts only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

/* recv what arrives within 2 s (expect data) or after 100 ms (expect nothing) */
static void check(const char *what, int fd, int expect_data)
{
    char buf[256];
    if (expect_data) {
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 2000);
    } else {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    long total = 0, r;
    while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
        total += r;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            break;
    }
    if (total > 0)
        show(what, total);
    else
        show(what, r);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = accept(l, NULL, NULL);
    char data[64];
    memset(data, 'x', sizeof data);
    for (int round = 0; round < 3; round++) {
        show("send(32)", send(c, data, 32, 0));
        check("recv after plain send", s, 1);
        show("send(32, MSG_MORE)", send(c, data, 32, MSG_MORE));
        check("recv after MSG_MORE", s, 0);
        if (round == 0) {
            /* held data goes out ~200 ms after the first held send, as one segment */
            show("send(16, MSG_MORE)", send(c, data, 16, MSG_MORE));
            check("recv after the 200 ms ceiling", s, 1);
        }
        if (round == 0)
            show("send(1)", send(c, data, 1, 0));
        else if (round == 1)
            show("write(1)", write(c, data, 1));
        else {
            struct iovec v = {data, 1};
            show("writev(1)", writev(c, &v, 1));
        }
        check("recv after the push", s, 1);
    }
    int one = 1, zero = 0;
    show("TCP_CORK on", setsockopt(c, IPPROTO_TCP, TCP_CORK, &one, sizeof one));
    show("send(10) corked", send(c, data, 10, 0));
    check("recv right after", s, 0);
    check("recv after the 200 ms ceiling", s, 1);
    show("send(5) corked", send(c, data, 5, 0));
    check("recv right after", s, 0);
    show("TCP_CORK off", setsockopt(c, IPPROTO_TCP, TCP_CORK, &zero, sizeof zero));
    check("recv after uncork", s, 1);
    close(s);
    close(c);
    close(l);
    return 0;
}
