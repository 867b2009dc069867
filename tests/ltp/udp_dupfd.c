/* udp_dupfd: a UDP socket reached through another fd number than the one socket()
 * gave: fcntl(F_DUPFD / F_DUPFD_CLOEXEC), received over SCM_RIGHTS, and the raw
 * syscall(SYS_read / SYS_write / SYS_recvfrom / SYS_dup) paths.  Every receive must
 * give the datagram's bytes only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conformance.h"

static void show_read(const char *what, ssize_t r, const char *buf)
{
    show(what, r);
    if (r >= 0)
        printf("%-44s   bytes=%.*s\n", what, (int)r, buf);
}

/* one datagram "hello" to `to`, then read it on fd with recv */
static void roundtrip(const char *what, int tx, int fd, const struct sockaddr_in *to)
{
    char buf[256], name[96];
    snprintf(name, sizeof name, "%s sendto", what);
    show(name, sendto(tx, "hello", 5, 0, (const struct sockaddr *)to, sizeof *to));
    readable(fd);
    snprintf(name, sizeof name, "%s recv", what);
    show_read(name, recv(fd, buf, sizeof buf, 0), buf);
}

/* receive one fd over the unix socket u (SCM_RIGHTS) */
static int recv_fd(int u)
{
    char data[8];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {data, sizeof data};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = sizeof cm.b;
    if (recvmsg(u, &mh, 0) < 0)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    int fd = -1;
    if (c && c->cmsg_type == SCM_RIGHTS)
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

int main(void)
{
    struct sockaddr_in a;
    int rx = loopback_udp(&a);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);

    int d1 = fcntl(rx, F_DUPFD, 40);
    show("F_DUPFD >= 40", d1 >= 40);
    roundtrip("F_DUPFD", tx, d1, &a);
    int d2 = fcntl(rx, F_DUPFD_CLOEXEC, 50);
    show("F_DUPFD_CLOEXEC >= 50", d2 >= 50);
    show("F_GETFD", fcntl(d2, F_GETFD));
    roundtrip("F_DUPFD_CLOEXEC", tx, d2, &a);
    close(d1);
    close(d2);

    int sv[2];
    show("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    show("send_fds", send_fds(sv[0], "fd", &rx, 1, NULL, 0));
    int got = recv_fd(sv[1]);
    show("received an fd", got >= 0);
    roundtrip("SCM_RIGHTS", tx, got, &a);
    close(got);

    /* a number reused: the received fd lands where an fd the program knew was closed */
    int d3 = (int)syscall(SYS_dup, rx);
    show("SYS_dup", d3 > rx);
    roundtrip("SYS_dup", tx, d3, &a);
    close(d3);

    char buf[256];
    show("sendto for SYS_read", sendto(tx, "world", 5, 0, (struct sockaddr *)&a, sizeof a));
    readable(rx);
    show_read("syscall(SYS_read)", syscall(SYS_read, rx, buf, sizeof buf), buf);
    show("sendto for SYS_recvfrom", sendto(tx, "again", 5, 0, (struct sockaddr *)&a, sizeof a));
    readable(rx);
    show_read("syscall(SYS_recvfrom)",
              syscall(SYS_recvfrom, rx, buf, sizeof buf, 0, NULL, NULL), buf);

    show("connect tx", connect(tx, (struct sockaddr *)&a, sizeof a));
    show("syscall(SYS_write)", syscall(SYS_write, tx, "wrote", 5));
    readable(rx);
    show_read("recv after SYS_write", recv(rx, buf, sizeof buf, 0), buf);
    struct iovec iov = {(void *)"vecto", 5};
    show("syscall(SYS_writev)", syscall(SYS_writev, tx, &iov, 1));
    readable(rx);
    struct iovec riov = {buf, sizeof buf};
    show_read("syscall(SYS_readv)", syscall(SYS_readv, rx, &riov, 1), buf);
    return 0;
}
