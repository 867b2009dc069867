/* tcp_reuse: a TCP socket whose connect failed is used again (connect retried), as
 * Linux allows: its options stay, and so does an address the program bound (an
 * explicit port is kept; a port 0 bind only keeps the address).  Prints return values,
 * errno names, option values and whether ports match only. */
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

static void opt(int fd, int level, int name, const char *what)
{
    int v = -1;
    socklen_t l = sizeof v;
    show(what, getsockopt(fd, level, name, &v, &l));
    printf("  value %d\n", v);
}

static void options(int fd)
{
    opt(fd, SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR");
    opt(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE");
    opt(fd, SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF");
    opt(fd, SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF");
    opt(fd, SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT");
    opt(fd, SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY");
    opt(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY");
    opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE");
    opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT");
    opt(fd, IPPROTO_IP, IP_TTL, "IP_TTL");
    opt(fd, IPPROTO_IP, IP_TOS, "IP_TOS");
    struct linger lg = {-1, -1};
    socklen_t l = sizeof lg;
    show("SO_LINGER", getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &l));
    printf("  onoff %d linger %d\n", lg.l_onoff, lg.l_linger);
}

static void set_options(int fd)
{
    int one = 1, buf = 20000, low = 7, prio = 3, idle = 77, uto = 12345, ttl = 33, tos = 0x10;
    struct linger lg = {1, 9};
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &low, sizeof low);
    setsockopt(fd, SOL_SOCKET, SO_PRIORITY, &prio, sizeof prio);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* a free port: bound, read back, released (never connected: no TIME_WAIT) */
static struct sockaddr_in free_port(void)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int t = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    /* SO_REUSEADDR on both: the socket that binds it next never waits for this close */
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(t, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(t, (struct sockaddr *)&a, &l);
    close(t);
    return a;
}

static void name(int fd, const struct sockaddr_in *want)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    memset(&a, 0, sizeof a);
    show("getsockname", getsockname(fd, (struct sockaddr *)&a, &l));
    printf("  address %s, port %s\n", a.sin_addr.s_addr == htonl(INADDR_LOOPBACK) ? "127.0.0.1"
                                      : a.sin_addr.s_addr == 0 ? "0.0.0.0" : "other",
           a.sin_port == 0 ? "0" : want && a.sin_port == want->sin_port ? "the bound one"
                                                                        : "another");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in la;
    int l = loopback_listener(&la, 8);
    struct sockaddr_in refused = free_port();   /* nobody listens there */
    char buf[16];

    for (int explicit_port = 1; explicit_port >= 0; explicit_port--) {
        for (int nb = 0; nb < 2; nb++) {
            printf("-- %s bind, %s connect\n", explicit_port ? "explicit port" : "port 0",
                   nb ? "non-blocking" : "blocking");
            int c = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
            set_options(c);
            struct sockaddr_in mine = explicit_port ? free_port() : refused;
            if (!explicit_port)
                mine.sin_port = 0;
            show("bind", bind(c, (struct sockaddr *)&mine, sizeof mine));
            name(c, explicit_port ? &mine : NULL);
            show("connect (refused)", connect(c, (struct sockaddr *)&refused, sizeof refused));
            if (nb) {
                struct pollfd p = {c, POLLOUT, 0};
                poll(&p, 1, 3000);
                int e = 0;
                socklen_t el = sizeof e;
                getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
                printf("  so_error %s\n", e ? strerrorname_np(e) : "0");
            }
            name(c, explicit_port ? &mine : NULL);
            options(c);
            long r = connect(c, (struct sockaddr *)&la, sizeof la);
            if (r < 0 && errno == ECONNABORTED) {
                /* Linux: the first connect after an unreported non-blocking failure
                 * only resets the socket */
                show("connect again", r);
                r = connect(c, (struct sockaddr *)&la, sizeof la);
            }
            if (nb && r < 0 && errno == EINPROGRESS) {
                struct pollfd p = {c, POLLOUT, 0};
                poll(&p, 1, 3000);
                int e = 0;
                socklen_t el = sizeof e;
                r = getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0 ? 0 : -1;
            }
            show("connect again (listener)", r);
            struct pollfd p = {l, POLLIN, 0};
            poll(&p, 1, 3000);
            int s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
            show("accept", s < 0 ? -1 : 0);
            name(c, explicit_port ? &mine : NULL);
            struct sockaddr_in peer;
            socklen_t pl = sizeof peer;
            getpeername(s, (struct sockaddr *)&peer, &pl);
            printf("  the server sees port %s\n",
                   explicit_port && peer.sin_port == mine.sin_port ? "the bound one" : "another");
            options(c);
            show("send", send(c, "data", 4, 0));
            p.fd = s;
            poll(&p, 1, 3000);
            show("server recv", recv(s, buf, sizeof buf, 0));
            struct linger lg = {0, 0};
            setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(c);
            close(s);
        }
    }
    close(l);
    return 0;
}
