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

/* "what = result" or "what = -1 ERRNONAME"; flushed, so forked children never repeat it */
static inline void show(const char *what, long ret)
{
    if (ret < 0)
        printf("%-44s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-44s = %ld\n", what, ret);
    fflush(stdout);
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

/* A bounded wait for fd to be readable: the shim's host answers a moment after Linux's
 * synchronous loopback would, so read what was just sent only after this */
static inline int readable(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 2000);
}

#endif
