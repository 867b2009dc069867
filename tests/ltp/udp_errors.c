/* udp_errors: errno paths of UDP sockets (EFAULT on bad pointers, bad flags and
 * lengths, shutdown semantics, poll/select on datagram sockets, v6 address checks).
 * Prints return values and errnos only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conformance.h"

static int revents(int fd, short ev)
{
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, 300);
    return r <= 0 ? r : p.revents;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    char buf[256];
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    show("bind(r)", bind(r, (struct sockaddr *)&a, sizeof a));
    socklen_t l = sizeof a;
    getsockname(r, (struct sockaddr *)&a, &l);

    /* EFAULT and bad arguments */
    show("sendto(bad addr ptr)", sendto(s, "x", 1, 0, (struct sockaddr *)-1, sizeof a));
    show("sendto(addrlen -1)", sendto(s, "x", 1, 0, (struct sockaddr *)&a, (socklen_t)-1));
    show("sendmsg(bad msghdr)", sendmsg(s, (struct msghdr *)-1, 0));
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &a;
    mh.msg_namelen = sizeof a;
    mh.msg_iov = (struct iovec *)-1;
    mh.msg_iovlen = 1;
    show("sendmsg(bad iov ptr)", sendmsg(s, &mh, 0));
    struct iovec big[1025];
    for (int i = 0; i < 1025; i++) {
        big[i].iov_base = buf;
        big[i].iov_len = 1;
    }
    mh.msg_iov = big;
    mh.msg_iovlen = 1025;
    show("sendmsg(1025 iovecs)", sendmsg(s, &mh, 0));
    volatile int neg = -1;
    show("writev(fd, iovcnt -1)", writev(s, big, neg));
    show("sendto(MSG_OOB)", sendto(s, "x", 1, MSG_OOB, (struct sockaddr *)&a, sizeof a));
    show("recv(bad msghdr)", recvmsg(r, (struct msghdr *)-1, MSG_DONTWAIT));

    /* poll / select on datagram sockets */
    show("poll(r, POLLIN|POLLOUT) idle", revents(r, POLLIN | POLLOUT));
    show("sendto(r)", sendto(s, "data", 4, 0, (struct sockaddr *)&a, sizeof a));
    show("poll(r, POLLIN) queued", revents(r, POLLIN));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(r, &rs);
    struct timeval tv = {1, 0};
    show("select(r readable)", select(r + 1, &rs, NULL, NULL, &tv));
    show("FD_ISSET", FD_ISSET(r, &rs));
    show("recv(r)", recv(r, buf, sizeof buf, 0));
    show("poll(r, POLLIN) drained", revents(r, POLLIN));
    int fl = fcntl(r, F_GETFL);
    fcntl(r, F_SETFL, fl | O_NONBLOCK);
    show("read(O_NONBLOCK) empty", read(r, buf, sizeof buf));
    fcntl(r, F_SETFL, fl);
    show("recv(MSG_DONTWAIT) empty", recv(r, buf, sizeof buf, MSG_DONTWAIT));
    struct timeval to = {0, 200000};
    show("setsockopt(SO_RCVTIMEO 200ms)", setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof to));
    show("recv(timeout)", recv(r, buf, sizeof buf, 0));
    struct timeval got;
    socklen_t gl = sizeof got;
    show("getsockopt(SO_RCVTIMEO)", getsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &got, &gl));
    printf("  %ld.%06ld len=%u\n", (long)got.tv_sec, (long)got.tv_usec, (unsigned)gl);
    struct timeval badtv = {0, 2000000};
    show("setsockopt(SO_SNDTIMEO usec 2000000)", setsockopt(r, SOL_SOCKET, SO_SNDTIMEO, &badtv,
                                                             sizeof badtv));
    show("setsockopt(SO_SNDTIMEO short)", setsockopt(r, SOL_SOCKET, SO_SNDTIMEO, &badtv, 8));

    /* shutdown semantics */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("shutdown(unconnected, SHUT_RD)", shutdown(u, SHUT_RD));
    show("recv(MSG_DONTWAIT) after failed SHUT_RD", recv(u, buf, 1, MSG_DONTWAIT));
    show("recv(blocking) after failed SHUT_RD", recv(u, buf, 1, 0));
    show("shutdown(bad how)", shutdown(u, 7));
    show("connect(u, r)", connect(u, (struct sockaddr *)&a, sizeof a));
    show("shutdown(SHUT_WR)", shutdown(u, SHUT_WR));
    show("send after SHUT_WR", send(u, "x", 1, 0));
    show("sendto after SHUT_WR", sendto(u, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
    show("poll(POLLOUT) after SHUT_WR", revents(u, POLLOUT) & POLLOUT);
    close(u);

    /* IPv6 address checks */
    int v = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 b;
    memset(&b, 0, sizeof b);
    b.sin6_family = AF_INET6;
    b.sin6_port = htons(9);
    inet_pton(AF_INET6, "::1", &b.sin6_addr);
    show("sendto(v6, addrlen 23)", sendto(v, "x", 1, 0, (struct sockaddr *)&b, 23));
    show("sendto(v6, addrlen 24)", sendto(v, "x", 1, 0, (struct sockaddr *)&b, 24));
    b.sin6_family = AF_UNIX;
    show("sendto(v6, AF_UNIX family)", sendto(v, "x", 1, 0, (struct sockaddr *)&b, sizeof b));
    b.sin6_family = AF_INET6;
    close(v);
    v = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 any6;
    memset(&any6, 0, sizeof any6);
    any6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::1", &any6.sin6_addr);
    show("bind(v6, ::1)", bind(v, (struct sockaddr *)&any6, sizeof any6));
    inet_pton(AF_INET6, "2001:db8::2", &any6.sin6_addr);
    int v2 = socket(AF_INET6, SOCK_DGRAM, 0);
    show("bind(v6, non-local)", bind(v2, (struct sockaddr *)&any6, sizeof any6));
    struct sockaddr_in c4 = a;
    inet_pton(AF_INET, "192.0.2.1", &c4.sin_addr);
    show("bind(v4, non-local)", bind(s, (struct sockaddr *)&c4, sizeof c4));
    close(v);
    close(v2);
    close(r);
    close(s);
    return 0;
}
