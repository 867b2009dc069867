/* fdops: file descriptor operations on shim sockets (dup/dup2/dup3, fcntl F_GETFL /
 * F_SETFL O_NONBLOCK, F_DUPFD, F_DUPFD_CLOEXEC, FD_CLOEXEC, close_range) keep the
 * socket working under every number; socket calls on non-socket and closed fds give
 * ENOTSOCK / EBADF; unknown options give ENOPROTOOPT at every level.  Prints return
 * values, errno names, flags and bytes only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

/* a round trip through fd to the peer and back */
static void works(const char *what, int fd, int peer)
{
    char buf[16];
    printf("%s: ", what);
    show("send", send(fd, "ping", 4, 0));
    struct pollfd p = {peer, POLLIN, 0};
    poll(&p, 1, 3000);
    show("  peer recv", recv(peer, buf, sizeof buf, 0));
    send(peer, "pong", 4, 0);
    p.fd = fd;
    poll(&p, 1, 3000);
    show("  recv", recv(fd, buf, sizeof buf, 0));
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    show("  getpeername", getpeername(fd, (struct sockaddr *)&a, &l));
}

static void fdflags(const char *what, int fd)
{
    int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
    printf("%s: O_NONBLOCK %d O_RDWR %d FD_CLOEXEC %d\n", what, fl >= 0 && (fl & O_NONBLOCK),
           fl >= 0 && (fl & O_ACCMODE) == O_RDWR, fdf >= 0 && (fdf & FD_CLOEXEC));
}

static void bad_fd(const char *kind, int fd)
{
    char buf[8];
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    int v = 1;
    socklen_t vl = sizeof v;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    printf("-- %s\n", kind);
    show("bind", bind(fd, (struct sockaddr *)&a, sizeof a));
    show("connect", connect(fd, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(fd, 1));
    show("accept", accept(fd, NULL, NULL));
    show("accept4", accept4(fd, NULL, NULL, SOCK_CLOEXEC));
    show("getsockname", getsockname(fd, (struct sockaddr *)&a, &l));
    show("getpeername", getpeername(fd, (struct sockaddr *)&a, &l));
    show("getsockopt", getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vl));
    show("setsockopt", setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof v));
    show("shutdown", shutdown(fd, SHUT_RDWR));
    show("send", send(fd, "x", 1, MSG_DONTWAIT));
    show("sendto", sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&a, sizeof a));
    show("recv", recv(fd, buf, sizeof buf, MSG_DONTWAIT));
    show("recvfrom", recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, NULL, NULL));
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    show("sendmsg", sendmsg(fd, &m, MSG_DONTWAIT));
    show("recvmsg", recvmsg(fd, &m, MSG_DONTWAIT));
}

static void unknown_opt(int fd, int level, const char *lname)
{
    int v = 0;
    socklen_t l = sizeof v;
    char what[64];
    snprintf(what, sizeof what, "getsockopt %s 9999", lname);
    show(what, getsockopt(fd, level, 9999, &v, &l));
    snprintf(what, sizeof what, "setsockopt %s 9999", lname);
    show(what, setsockopt(fd, level, 9999, &v, sizeof v));
}

/* 64-bit answers asked for in an int (as qemu-user asks for options it knows as ints):
 * the value differs per socket, so only the result and the length are printed */
static void u64_opts(int fd)
{
    static const struct { int opt; const char *name; } opts[] = {
        {SO_COOKIE, "SO_COOKIE"}, {SO_NETNS_COOKIE, "SO_NETNS_COOKIE"}};
    static const socklen_t lens[] = {4, 8, 12};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            unsigned char v[16];
            socklen_t l = lens[k];
            char what[64];
            snprintf(what, sizeof what, "getsockopt %s optlen %u", opts[i].name,
                     (unsigned)lens[k]);
            show(what, getsockopt(fd, SOL_SOCKET, opts[i].opt, v, &l));
            show("  optlen after", (int)l);
        }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);
    works("original", c, s);
    fdflags("original", c);

    int d = dup(c);
    show("dup", d > c ? 1 : -1);
    works("dup", d, s);
    int d2 = dup2(c, 20);
    show("dup2 to 20", d2);
    fdflags("dup2", 20);
    works("dup2", 20, s);
    show("dup3 to 21 O_CLOEXEC", dup3(c, 21, O_CLOEXEC));
    fdflags("dup3 O_CLOEXEC", 21);
    works("dup3", 21, s);
    show("dup3 onto itself", dup3(c, c, 0));
    show("dup3 bad flags", dup3(c, 22, 12345));
    show("F_DUPFD 30", fcntl(c, F_DUPFD, 30));
    show("F_DUPFD_CLOEXEC 40", fcntl(c, F_DUPFD_CLOEXEC, 40));
    fdflags("F_DUPFD", 30);
    fdflags("F_DUPFD_CLOEXEC", 40);
    works("F_DUPFD_CLOEXEC", 40, s);
    show("F_SETFD FD_CLOEXEC", fcntl(30, F_SETFD, FD_CLOEXEC));
    fdflags("after F_SETFD", 30);

    /* O_NONBLOCK is the open file's: every dup sees it */
    int fl = fcntl(c, F_GETFL);
    show("F_SETFL O_NONBLOCK", fcntl(c, F_SETFL, fl | O_NONBLOCK));
    fdflags("original", c);
    fdflags("dup", d);
    char buf[16];
    show("recv (empty, non-blocking via the flag)", recv(d, buf, sizeof buf, 0));
    show("F_SETFL back", fcntl(c, F_SETFL, fl));
    fdflags("dup", d);

    /* the original goes, the copies stay */
    show("close original", close(c));
    works("dup after the original closed", d, s);
    show("close_range 20..21", close_range(20, 21, 0));
    show("fcntl 20 after close_range", fcntl(20, F_GETFD));
    show("getsockname 21 after close_range", getsockname(21, (struct sockaddr *)&a,
                                                         &(socklen_t){sizeof a}));
    works("F_DUPFD after close_range", 30, s);
    show("close_range 30..40 CLOEXEC", close_range(30, 40, CLOSE_RANGE_CLOEXEC));
    fdflags("30 after CLOSE_RANGE_CLOEXEC", 30);
    show("close_range 30..~0", close_range(30, ~0U, 0));
    close(d);
    /* every reference gone: the peer sees EOF */
    struct pollfd p = {s, POLLIN, 0};
    poll(&p, 1, 3000);
    show("peer recv after the last close", recv(s, buf, sizeof buf, 0));
    close(s);

    /* not sockets, closed fds */
    int pfd[2];
    if (pipe(pfd) == 0) {
        bad_fd("a pipe", pfd[0]);
        close(pfd[0]);
        close(pfd[1]);
    }
    int fd = open("/dev/null", O_RDWR);
    bad_fd("a file", fd);
    close(fd);
    bad_fd("a closed fd", fd);
    bad_fd("fd -1", -1);

    /* unknown options */
    int t = socket(AF_INET, SOCK_STREAM, 0), u = socket(AF_INET, SOCK_DGRAM, 0);
    int t6 = socket(AF_INET6, SOCK_STREAM, 0), u6 = socket(AF_INET6, SOCK_DGRAM, 0);
    printf("-- TCP\n");
    u64_opts(t);
    unknown_opt(t, SOL_SOCKET, "SOL_SOCKET");
    unknown_opt(t, IPPROTO_IP, "IPPROTO_IP");
    unknown_opt(t, IPPROTO_TCP, "IPPROTO_TCP");
    unknown_opt(t, IPPROTO_UDP, "IPPROTO_UDP");
    printf("-- UDP\n");
    unknown_opt(u, SOL_SOCKET, "SOL_SOCKET");
    unknown_opt(u, IPPROTO_IP, "IPPROTO_IP");
    unknown_opt(u, IPPROTO_UDP, "IPPROTO_UDP");
    unknown_opt(u, IPPROTO_TCP, "IPPROTO_TCP");
    printf("-- TCP6\n");
    unknown_opt(t6, IPPROTO_IPV6, "IPPROTO_IPV6");
    unknown_opt(t6, IPPROTO_TCP, "IPPROTO_TCP");
    printf("-- UDP6\n");
    unknown_opt(u6, IPPROTO_IPV6, "IPPROTO_IPV6");
    unknown_opt(u6, IPPROTO_UDP, "IPPROTO_UDP");
    /* privileged buffer sizes (root here, natively and under the shim), the urgent mark
     * of a UDP socket, a protocol the stack leaves to the kernel */
    int neg = -1, sb = 0;
    socklen_t sbl = sizeof sb;
    show("setsockopt SO_SNDBUFFORCE -1", setsockopt(t, SOL_SOCKET, SO_SNDBUFFORCE, &neg,
                                                    sizeof neg));
    getsockopt(t, SOL_SOCKET, SO_SNDBUF, &sb, &sbl);
    printf("  SO_SNDBUF %d\n", sb);
    int big = 8 << 20;
    show("setsockopt SO_RCVBUFFORCE 8 MiB", setsockopt(t, SOL_SOCKET, SO_RCVBUFFORCE, &big,
                                                        sizeof big));
    sbl = sizeof sb;
    getsockopt(t, SOL_SOCKET, SO_RCVBUF, &sb, &sbl);
    printf("  SO_RCVBUF %d\n", sb);
    int mark = 0;
    show("ioctl SIOCATMARK on UDP", ioctl(u, SIOCATMARK, &mark));
    int lite = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
    show("socket UDP-Lite", lite >= 0 ? 0 : -1);
    close(lite);
    close(t);
    close(u);
    close(t6);
    close(u6);
    close(l);
    return 0;
}
