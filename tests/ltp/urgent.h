/* urgent.h: what the MSG_OOB conformance programs (tcp_oob.c, unix_oob.c) print of a
 * socket: SIOCATMARK, and a non-blocking recv with its bytes. */
#ifndef URGENT_H
#define URGENT_H

#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "conformance.h"

static void atmark(const char *what, int fd)
{
    int m = -1;
    int r = ioctl(fd, SIOCATMARK, &m);
    show(what, r < 0 ? r : m);
}

static void rd(const char *what, int fd, int flags)
{
    char buf[64];
    ssize_t r = recv(fd, buf, sizeof buf, flags | MSG_DONTWAIT);
    show(what, r);
    if (r > 0)
        printf("  bytes \"%.*s\"\n", (int)r, buf);
}

#endif
