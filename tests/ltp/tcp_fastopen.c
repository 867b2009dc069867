/* tcp_fastopen: sendto/sendmsg with MSG_FASTOPEN on an unconnected TCP socket connects
 * and sends (TCP Fast Open, first connection: no cookie yet), blocking and not; on a
 * connected socket EISCONN; to AF_UNSPEC EOPNOTSUPP.  The server enables TCP_FASTOPEN. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "conformance.h"

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

/* accept the next connection on l, show what its first read gives, close both */
static void server_recv(const char *what, int l, int c)
{
    char buf[64];
    int s = accept(l, NULL, NULL);
    readable(s);
    show(what, recv(s, buf, sizeof buf, 0));
    close(c);
    close(s);
}

int main(void)
{
    struct sockaddr_in a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    a = v4("127.0.0.1", 0);
    bind(l, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    int q = 16;
    show("setsockopt TCP_FASTOPEN", setsockopt(l, IPPROTO_TCP, TCP_FASTOPEN, &q, sizeof q));
    show("listen", listen(l, 8));
    char buf[64];

    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("sendto MSG_FASTOPEN (blocking)",
         sendto(c, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a));
    int s = accept(l, NULL, NULL);
    readable(s);
    show("server recv", recv(s, buf, sizeof buf, 0));
    show("sendto MSG_FASTOPEN again", sendto(c, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&a,
                                              sizeof a));
    show("send after", send(c, "world", 5, 0));
    readable(s);
    show("server recv after", recv(s, buf, sizeof buf, 0));
    close(c);
    close(s);

    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("sendto MSG_FASTOPEN (non-blocking)",
         sendto(c, "hello", 5, MSG_FASTOPEN, (struct sockaddr *)&a, sizeof a));
    struct pollfd p = {c, POLLOUT, 0};
    show("poll POLLOUT", poll(&p, 1, 3000));
    show("send", send(c, "later", 5, 0));
    server_recv("server recv", l, c);

    c = socket(AF_INET, SOCK_STREAM, 0);
    struct iovec iov = {(void *)"msg", 3};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &a;
    m.msg_namelen = sizeof a;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    show("sendmsg MSG_FASTOPEN", sendmsg(c, &m, MSG_FASTOPEN));
    server_recv("server recv", l, c);

    c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in u = a;
    u.sin_family = AF_UNSPEC;
    show("sendto MSG_FASTOPEN AF_UNSPEC", sendto(c, "x", 1, MSG_FASTOPEN, (struct sockaddr *)&u,
                                                  sizeof u));
    close(c);
    close(l);
    return 0;
}
