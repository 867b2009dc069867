/* efault: bad user pointers ((void *)-1) to the socket calls of TCP and UDP shim
 * sockets give EFAULT (or what Linux checks first), never a crash of the program or of
 * the stack host.  Prints return values and errno names only. */
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

#define BAD ((void *)-1)

static void calls(const char *kind, int fd, int connected)
{
    printf("-- %s\n", kind);
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    int v = 0;
    socklen_t vl = sizeof v;
    show("bind bad addr", bind(fd, BAD, sizeof a));
    if (!connected)
        show("connect bad addr", connect(fd, BAD, sizeof a));
    show("getsockname bad addr", getsockname(fd, BAD, &l));
    l = sizeof a;
    show("getsockname bad len", getsockname(fd, (struct sockaddr *)&a, BAD));
    show("getpeername bad addr", getpeername(fd, BAD, &l));
    show("getsockopt bad value", getsockopt(fd, SOL_SOCKET, SO_TYPE, BAD, &vl));
    show("getsockopt bad len", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, BAD));
    show("setsockopt bad value", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, BAD, sizeof v));
    show("setsockopt SO_LINGER bad value", setsockopt(fd, SOL_SOCKET, SO_LINGER, BAD, 8));
    if (connected) {
        show("send bad buffer", send(fd, BAD, 10, MSG_DONTWAIT | MSG_NOSIGNAL));
        show("recv bad buffer (nothing queued)", recv(fd, BAD, 10, MSG_DONTWAIT));
    }
    show("sendto bad addr", sendto(fd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL, BAD, sizeof a));
    show("sendmsg bad msghdr", sendmsg(fd, BAD, MSG_DONTWAIT | MSG_NOSIGNAL));
    show("recvmsg bad msghdr", recvmsg(fd, BAD, MSG_DONTWAIT));
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = BAD;
    m.msg_iovlen = 1;
    show("sendmsg bad iovec", sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL));
    show("recvmsg bad iovec", recvmsg(fd, &m, MSG_DONTWAIT));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    socklen_t al = sizeof a;
    show("accept4 bad flags, bad addr", accept4(l, BAD, &al, 12345));
    /* each bad accept takes a connection (Linux copies the address out afterwards) */
    int c = socket(AF_INET, SOCK_STREAM, 0), c1 = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    connect(c1, (struct sockaddr *)&a, sizeof a);
    struct pollfd p = {l, POLLIN, 0};
    poll(&p, 1, 3000);
    al = sizeof a;
    show("accept bad addr", accept(l, BAD, &al));
    show("accept bad len", accept(l, (struct sockaddr *)&a, BAD));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    calls("unconnected TCP", t, 0);
    calls("connected TCP", c, 1);
    calls("UDP", u, 0);
    /* after all that the stack still answers */
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    show("connect after the bad calls", connect(c2, (struct sockaddr *)&a, sizeof a));
    close(c2);
    /* a bad bind or connect address on a socket never used yet changes nothing: the
     * option set before it still holds, and a good connect then works */
    int t2 = socket(AF_INET, SOCK_STREAM, 0), one = 1, v = 0;
    socklen_t vl = sizeof v;
    setsockopt(t2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    show("unused TCP: bind bad addr", bind(t2, BAD, sizeof a));
    show("unused TCP: connect bad addr", connect(t2, BAD, sizeof a));
    show("unused TCP: getsockopt SO_REUSEADDR", getsockopt(t2, SOL_SOCKET, SO_REUSEADDR, &v,
                                                           &vl));
    printf("SO_REUSEADDR %d\n", v);
    show("unused TCP: connect", connect(t2, (struct sockaddr *)&a, sizeof a));
    show("unused TCP: send", send(t2, "x", 1, MSG_NOSIGNAL));
    close(t2);
    close(c1);
    close(c);
    close(u);
    close(t);
    close(l);
    return 0;
}
