/* tcp_bufsize: SO_SNDBUF / SO_RCVBUF bound what a connection buffers.  A sender writes
 * without blocking to a receiver that does not read, until EAGAIN: with 16 KiB asked
 * on both sides Linux takes some tens of KiB (the doubled sk_sndbuf and sk_rcvbuf);
 * the shim's socket pair must not add its own megabyte.  The receiver then reads it
 * all.  Prints the reported sizes and whether the total is in bounds, not the total
 * itself (its exact value depends on kernel accounting), and the window scales the
 * handshake chose (a set SO_RCVBUF bounds the receive window, hence its scale). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static void sizes(const char *what, int fd)
{
    int snd = -1, rcv = -1;
    socklen_t l = sizeof snd;
    getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &l);
    l = sizeof rcv;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &l);
    printf("%s: SO_SNDBUF %d SO_RCVBUF %d\n", what, snd, rcv);
}

static void scales(const char *what, int fd)
{
    struct tcp_info ti;
    socklen_t l = sizeof ti;
    memset(&ti, 0, sizeof ti);
    show(what, getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l));
    printf("  window scales: send %d receive %d\n", ti.tcpi_snd_wscale, ti.tcpi_rcv_wscale);
}

static long drain(int fd, long want)
{
    static char buf[65536];
    long total = 0;
    while (total < want) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 3000) <= 0)
            break;
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        total += r;
    }
    return total;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int size = 16384;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    /* the accepted socket inherits the listener's sizes */
    show("listener SO_RCVBUF", setsockopt(l, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
    show("listener SO_SNDBUF", setsockopt(l, SOL_SOCKET, SO_SNDBUF, &size, sizeof size));
    show("bind", bind(l, (struct sockaddr *)&a, sizeof a));
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    show("listen", listen(l, 1));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("client SO_SNDBUF", setsockopt(c, SOL_SOCKET, SO_SNDBUF, &size, sizeof size));
    show("client SO_RCVBUF", setsockopt(c, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = accept(l, NULL, NULL);
    sizes("client", c);
    sizes("accepted", s);
    scales("client TCP_INFO", c);
    scales("accepted TCP_INFO", s);
    long up = fill_until_eagain(c, 4096, 300);
    printf("client -> accepted buffered: %s\n", up > 0 && up < 256 * 1024 ? "in bounds" : "NOT");
    printf("  all read back %d\n", drain(s, up) == up);
    long down = fill_until_eagain(s, 4096, 300);
    printf("accepted -> client buffered: %s\n",
           down > 0 && down < 256 * 1024 ? "in bounds" : "NOT");
    printf("  all read back %d\n", drain(c, down) == down);
    /* SO_SNDBUFFORCE / SO_RCVBUFFORCE (CAP_NET_ADMIN): no wmem_max / rmem_max clamp,
     * a negative value is 0 (LTP setsockopt04's CVE-2016-9793) */
    int vals[] = {-256, 10000000};
    for (int i = 0; i < 2; i++) {
        int v = vals[i];
        int r = setsockopt(c, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v);
        int r2 = setsockopt(c, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v);
        if (r < 0 && errno == EPERM && r2 < 0) {
            printf("FORCE %d: not permitted\n", v);
            continue;
        }
        printf("FORCE %d: %d %d\n", v, r, r2);
        sizes("  client", c);
    }
    close(s);
    close(c);
    close(l);
    return 0;
}
