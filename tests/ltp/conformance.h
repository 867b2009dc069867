/* conformance.h: what every differential conformance program prints with.  The output
 * of a program natively and under rocketnet must be identical, so print results and
 * errno names only, never anything that varies from run to run. */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "libc_compat.h"

/* "what = result" or "what = -1 ERRNONAME"; flushed, so forked children never repeat it */
static inline void show(const char *what, long ret)
{
    if (ret < 0)
        printf("%-44s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-44s = %ld\n", what, ret);
    fflush(stdout);
}

/* An IPv4 socket address */
static inline struct sockaddr_in v4(const char *ip, unsigned short port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* A TCP listener on 127.0.0.1 with an ephemeral port; its address in *a */
static inline int loopback_listener(struct sockaddr_in *a, int backlog)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(l, (struct sockaddr *)a, sizeof *a);
    socklen_t al = sizeof *a;
    getsockname(l, (struct sockaddr *)a, &al);
    listen(l, backlog);
    return l;
}

/* A UDP socket bound to 127.0.0.1 with an ephemeral port (its bind shown as "bind rx");
 * its address in *a */
static inline int loopback_udp(struct sockaddr_in *a)
{
    *a = v4("127.0.0.1", 0);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    show("bind rx", bind(s, (struct sockaddr *)a, sizeof *a));
    socklen_t al = sizeof *a;
    getsockname(s, (struct sockaddr *)a, &al);
    return s;
}

/* A bounded wait for fd to be readable: the shim's host answers a moment after Linux's
 * synchronous loopback would, so read what was just sent only after this */
static inline int readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 2000);
}

/* sendmsg of `data` with n (<= 4) fds as SCM_RIGHTS, to `to` if given */
static inline ssize_t send_fds(int s, const char *data, const int *fds, int n,
                               const void *to, socklen_t tolen)
{
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {(void *)data, strlen(data)};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = (void *)to;
    mh.msg_namelen = tolen;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    return sendmsg(s, &mh, 0);
}

/* Write chunks without blocking until EAGAIN persists for persist_ms (POLLOUT does not
 * come: the shim's host moves data asynchronously); the total written */
static inline long fill_until_eagain(int fd, size_t chunk, int persist_ms)
{
    static char buf[65536];
    long total = 0;
    if (chunk > sizeof buf)
        chunk = sizeof buf;
    for (;;) {
        ssize_t r = send(fd, buf, chunk, MSG_DONTWAIT);
        if (r > 0) {
            total += r;
            continue;
        }
        if (r < 0 && errno != EAGAIN)
            return total;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, persist_ms) <= 0)
            return total;
    }
}

#endif
