/* tcp_oob: TCP urgent data (send/recv MSG_OOB, POLLPRI, select exceptfds, SIOCATMARK,
 * SO_OOBINLINE).  Prints return values, errno names and the bytes read only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "conformance.h"
#include "urgent.h"

static void wait_pri(const char *what, int fd)
{
    struct pollfd p = {fd, POLLPRI, 0};
    int r = poll(&p, 1, 3000);
    show(what, r);
    printf("  revents&POLLPRI %d\n", !!(p.revents & POLLPRI));
    fd_set ex;
    FD_ZERO(&ex);
    FD_SET(fd, &ex);
    struct timeval tv = {0, 0};
    show("  select exceptfds", select(fd + 1, NULL, NULL, &ex, &tv));
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = accept(l, NULL, NULL);
    int v = -1;
    socklen_t vl = sizeof v;
    show("getsockopt SO_OOBINLINE", getsockopt(s, SOL_SOCKET, SO_OOBINLINE, &v, &vl));
    printf("  value %d\n", v);
    rd("recv(MSG_OOB) with no urgent data", s, MSG_OOB);
    atmark("SIOCATMARK with nothing", s);

    /* out of band: "ab" in band, then 'c' urgent */
    show("send(\"ab\")", send(c, "ab", 2, 0));
    show("send(\"xc\", MSG_OOB)", send(c, "xc", 2, MSG_OOB));
    wait_pri("poll(POLLPRI)", s);
    atmark("SIOCATMARK before the mark", s);
    rd("recv up to the mark", s, 0);
    atmark("SIOCATMARK at the mark", s);
    rd("recv(MSG_OOB)", s, MSG_OOB);
    rd("recv(MSG_OOB) again", s, MSG_OOB);
    show("send(\"tail\")", send(c, "tail", 4, 0));
    struct pollfd p = {s, POLLIN, 0};
    poll(&p, 1, 3000);
    usleep(100000);
    rd("recv after the mark", s, 0);

    /* sendmsg(MSG_OOB): the last byte of the last non-empty iovec is urgent */
    char g[] = "gh", i[] = "ji";
    struct iovec iv[3] = {{g, 2}, {i, 2}, {g, 0}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = iv;
    mh.msg_iovlen = 3;
    show("sendmsg({\"gh\", \"ji\", \"\"}, MSG_OOB)", sendmsg(c, &mh, MSG_OOB));
    wait_pri("poll(POLLPRI) after sendmsg", s);
    rd("recv up to the mark", s, 0);
    atmark("SIOCATMARK at the mark", s);
    rd("recv(MSG_OOB)", s, MSG_OOB);
    struct iovec one = {i + 1, 1};
    mh.msg_iov = &one;
    mh.msg_iovlen = 1;
    show("sendmsg({\"i\"}, MSG_OOB)", sendmsg(c, &mh, MSG_OOB));
    wait_pri("poll(POLLPRI) after a one-byte sendmsg", s);
    atmark("SIOCATMARK at the mark", s);
    rd("recv(MSG_OOB)", s, MSG_OOB);

    /* the other direction, inline */
    v = 1;
    show("setsockopt SO_OOBINLINE", setsockopt(c, SOL_SOCKET, SO_OOBINLINE, &v, sizeof v));
    vl = sizeof v;
    v = -1;
    show("getsockopt SO_OOBINLINE", getsockopt(c, SOL_SOCKET, SO_OOBINLINE, &v, &vl));
    printf("  value %d\n", v);
    show("send(\"de\")", send(s, "de", 2, 0));
    show("send(\"f\", MSG_OOB)", send(s, "f", 1, MSG_OOB));
    wait_pri("poll(POLLPRI) inline", c);
    rd("recv up to the mark (inline)", c, 0);
    atmark("SIOCATMARK at the mark (inline)", c);
    rd("recv(MSG_OOB) inline", c, MSG_OOB);
    rd("recv the urgent byte inline", c, 0);
    rd("recv nothing left", c, 0);
    close(s);
    close(c);
    close(l);
    return 0;
}
