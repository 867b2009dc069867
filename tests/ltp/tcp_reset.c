/* tcp_reset: reading a TCP socket that never connected (ENOTCONN at once, blocking or
 * not) and one whose peer reset the connection (SO_LINGER {1, 0} close) with and
 * without unread data: the first read reports ECONNRESET, later reads 0, SO_ERROR
 * consumes the same error.  Prints return values, errno names and bytes only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conformance.h"

static int pair(int l, struct sockaddr_in *a, int *s)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)a, sizeof *a);
    *s = accept(l, NULL, NULL);
    return c;
}

/* the peer resets: SO_LINGER {1, 0} then close; c waits (bounded) for it */
static void reset_by_peer(int s, int c)
{
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    show("peer close with linger 0", close(s));
    struct pollfd p = {c, POLLRDHUP, 0};
    poll(&p, 1, 3000);
    /* POLLERR is not compared: a shim socket reset with nothing unread shows
     * POLLHUP|POLLRDHUP without it (README, "Reads that end") */
    printf("  revents 0x%x\n", p.revents & ~POLLERR);
}

static void so_error(int fd)
{
    int v = -1;
    socklen_t l = sizeof v;
    show("getsockopt SO_ERROR", getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &l));
    printf("  so_error %s\n", v ? strerrorname_np(v) : "0");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 8);
    char buf[64];

    /* never connected: every read variant fails at once with ENOTCONN */
    int u = socket(AF_INET, SOCK_STREAM, 0);
    show("read unconnected (blocking)", read(u, buf, sizeof buf));
    show("recv unconnected (blocking)", recv(u, buf, sizeof buf, 0));
    show("recv unconnected MSG_DONTWAIT", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    show("recvfrom unconnected", recvfrom(u, buf, sizeof buf, 0, NULL, NULL));
    struct iovec iov = {buf, sizeof buf};
    show("readv unconnected", readv(u, &iov, 1));
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    show("recvmsg unconnected", recvmsg(u, &m, 0));
    show("recv unconnected MSG_PEEK", recv(u, buf, sizeof buf, MSG_PEEK));
    show("send unconnected MSG_NOSIGNAL", send(u, "x", 1, MSG_NOSIGNAL));
    so_error(u);
    struct pollfd p = {u, POLLIN | POLLOUT, 0};
    show("poll unconnected", poll(&p, 1, 0));
    /* POLLHUP is not compared: a shim socket that never connected lacks it (README) */
    printf("  revents POLLIN %d POLLOUT %d POLLERR %d\n", !!(p.revents & POLLIN),
           !!(p.revents & POLLOUT), !!(p.revents & POLLERR));
    /* still usable: connect, then data flows */
    show("connect after the failed reads", connect(u, (struct sockaddr *)&a, sizeof a));
    int us = accept(l, NULL, NULL);
    show("send", send(us, "hey", 3, 0));
    p.fd = u;
    p.events = POLLIN;
    poll(&p, 1, 3000);
    show("read after connect", read(u, buf, sizeof buf));
    close(us);
    poll(&p, 1, 3000);
    show("read after the peer's FIN", read(u, buf, sizeof buf));
    show("read after the peer's FIN again", read(u, buf, sizeof buf));
    close(u);

    /* reset with nothing unread: ECONNRESET once, then 0 */
    int s, c = pair(l, &a, &s);
    reset_by_peer(s, c);
    show("read after reset", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    show("recv MSG_DONTWAIT again", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    so_error(c);
    show("send after reset MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL));
    close(c);

    /* reset; SO_ERROR takes the error first, reads then see 0 */
    c = pair(l, &a, &s);
    reset_by_peer(s, c);
    so_error(c);
    so_error(c);
    show("read after SO_ERROR", read(c, buf, sizeof buf));
    close(c);

    /* reset reported through each read variant */
    for (int v = 0; v < 4; v++) {
        static const char *const names[] = {"recv", "recvfrom", "readv", "recvmsg"};
        c = pair(l, &a, &s);
        reset_by_peer(s, c);
        long r = v == 0 ? recv(c, buf, sizeof buf, 0)
                 : v == 1 ? recvfrom(c, buf, sizeof buf, 0, NULL, NULL)
                 : v == 2 ? readv(c, &iov, 1)
                          : recvmsg(c, &m, 0);
        printf("%s: ", names[v]);
        show("first read after reset", r);
        show("second read", read(c, buf, sizeof buf));
        close(c);
    }

    /* the peer wrote, then reset: what was delivered is read, then the reset */
    c = pair(l, &a, &s);
    show("peer send", send(s, "abcdef", 6, 0));
    p.fd = c;
    p.events = POLLIN;
    poll(&p, 1, 3000);
    reset_by_peer(s, c);
    show("read after data + reset", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    close(c);

    /* we wrote, the peer reset without reading */
    c = pair(l, &a, &s);
    show("send", send(c, "ghi", 3, 0));
    p.fd = s;
    poll(&p, 1, 3000);
    reset_by_peer(s, c);
    show("read after our data + reset", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    close(c);

    /* a refused connect: the error is connect's; reads then see a closed socket */
    struct sockaddr_in na = a;  /* bound, not listening: connections are refused */
    int b = socket(AF_INET, SOCK_STREAM, 0);
    na.sin_port = 0;
    bind(b, (struct sockaddr *)&na, sizeof na);
    socklen_t nl = sizeof na;
    getsockname(b, (struct sockaddr *)&na, &nl);
    c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect refused", connect(c, (struct sockaddr *)&na, sizeof na));
    so_error(c);
    show("read after the refused connect", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("non-blocking connect refused", connect(c, (struct sockaddr *)&na, sizeof na));
    p.fd = c;
    p.events = POLLOUT;
    poll(&p, 1, 3000);
    show("read before SO_ERROR", read(c, buf, sizeof buf));
    show("read again", read(c, buf, sizeof buf));
    so_error(c);
    close(c);
    close(b);

    /* the peer closed normally (FIN): reads give 0 and no error */
    c = pair(l, &a, &s);
    close(s);
    p.fd = c;
    p.events = POLLIN;
    poll(&p, 1, 3000);
    show("read after FIN", read(c, buf, sizeof buf));
    show("read after FIN again", recv(c, buf, sizeof buf, MSG_DONTWAIT));
    so_error(c);
    close(c);
    close(l);
    return 0;
}
