/* tcp_setup_opts: a TCP socket set up before it connects, as netperf's TCP_CRR client
 * does every time (options, readback, bind, connect), must read and behave as on Linux
 * whatever the shim does to save round trips (c_stub/defer.c keeps such options and
 * sends them with bind/listen/connect).  Covers: readback of SO_SNDBUF / SO_RCVBUF
 * (0, negative, huge, short optlen), options read back after bind and connect, the
 * options of a listener set after listen (accepted sockets inherit them), a socket
 * handed to a dup2 copy and to a forked child before its connect, a write before
 * connect (EPIPE), a non-blocking connect's readiness, and the EOF of a closed peer. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static int getint(int fd, int level, int opt)
{
    int v = -12345;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, opt, &v, &l) < 0)
        return -errno;
    return v;
}

static void setint(const char *what, int fd, int level, int opt, int v)
{
    show(what, setsockopt(fd, level, opt, &v, sizeof v));
}

/* the options, and the buffer sizes unless bufs is 0 (Linux autotunes a buffer nobody
 * set once data flowed; the stack's model keeps its default: not compared here) */
static void readback_opts(const char *what, int fd, int bufs)
{
    if (bufs)
        printf("%s: sndbuf %d rcvbuf %d\n", what, getint(fd, SOL_SOCKET, SO_SNDBUF),
               getint(fd, SOL_SOCKET, SO_RCVBUF));
    printf("%s: reuseaddr %d reuseport %d keepalive %d nodelay %d\n", what,
           getint(fd, SOL_SOCKET, SO_REUSEADDR), getint(fd, SOL_SOCKET, SO_REUSEPORT),
           getint(fd, SOL_SOCKET, SO_KEEPALIVE), getint(fd, IPPROTO_TCP, TCP_NODELAY));
    fflush(stdout);
}

static void readback(const char *what, int fd)
{
    readback_opts(what, fd, 1);
}

/* connect c to a, accept it on l, one request and response, peer closes first */
static void exchange(const char *what, int c, int l, const struct sockaddr_in *a)
{
    char name[96], buf[64];
    snprintf(name, sizeof name, "%s: connect", what);
    show(name, connect(c, (const struct sockaddr *)a, sizeof *a));
    int s = accept(l, NULL, NULL);
    snprintf(name, sizeof name, "%s: accept", what);
    show(name, s >= 0 ? 0 : -1);
    printf("%s: accepted nodelay %d keepalive %d\n", what, getint(s, IPPROTO_TCP, TCP_NODELAY),
           getint(s, SOL_SOCKET, SO_KEEPALIVE));
    snprintf(name, sizeof name, "%s: send", what);
    show(name, send(c, "request", 7, 0));
    readable(s);
    snprintf(name, sizeof name, "%s: server recv", what);
    show(name, recv(s, buf, sizeof buf, 0));
    show("  server send", send(s, "response", 8, 0));
    close(s);
    readable(c);
    snprintf(name, sizeof name, "%s: client recv", what);
    show(name, recv(c, buf, sizeof buf, 0));
    readable(c);
    snprintf(name, sizeof name, "%s: client recv (EOF)", what);
    show(name, recv(c, buf, sizeof buf, 0));
    show("  and again", recv(c, buf, sizeof buf, 0));
    readback_opts(what, c, 0);
    close(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 8);

    /* the netperf TCP_CRR client's set-up */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    setint("sndbuf 16000", c, SOL_SOCKET, SO_SNDBUF, 16000);
    setint("rcvbuf 16000", c, SOL_SOCKET, SO_RCVBUF, 16000);
    setint("reuseaddr", c, SOL_SOCKET, SO_REUSEADDR, 1);
    readback("before bind", c);
    show("send before connect", send(c, "x", 1, 0));
    struct sockaddr_in any = v4("127.0.0.1", 0);
    show("bind", bind(c, (struct sockaddr *)&any, sizeof any));
    readback("after bind", c);
    exchange("crr", c, l, &a);

    /* odd values, set twice, short lengths */
    int vals[] = {0, -1, 1, 1 << 30, 2047, 100000};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        c = socket(AF_INET, SOCK_STREAM, 0);
        setint("sndbuf", c, SOL_SOCKET, SO_SNDBUF, vals[i]);
        setint("rcvbuf", c, SOL_SOCKET, SO_RCVBUF, vals[i]);
        printf("value %d: sndbuf %d rcvbuf %d\n", vals[i], getint(c, SOL_SOCKET, SO_SNDBUF),
               getint(c, SOL_SOCKET, SO_RCVBUF));
        close(c);
    }
    c = socket(AF_INET, SOCK_STREAM, 0);
    short sh = 1;
    show("sndbuf optlen 2", setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sh, sizeof sh));
    setint("sndbuf 5000", c, SOL_SOCKET, SO_SNDBUF, 5000);
    setint("sndbuf 7000", c, SOL_SOCKET, SO_SNDBUF, 7000);
    unsigned char small[2] = {0xee, 0xee};
    socklen_t sl = sizeof small;
    show("sndbuf get optlen 2", getsockopt(c, SOL_SOCKET, SO_SNDBUF, small, &sl));
    printf("  bytes %02x %02x len %u\n", small[0], small[1], (unsigned)sl);
    long big[2] = {0, 0};
    sl = sizeof big;
    show("sndbuf get optlen 16", getsockopt(c, SOL_SOCKET, SO_SNDBUF, big, &sl));
    printf("  value %ld len %u\n", big[0] & 0xffffffffL, (unsigned)sl);
    show("sndbuf get bad pointer", getsockopt(c, SOL_SOCKET, SO_SNDBUF, (void *)-1, &sl));
    close(c);

    /* every option kind before a plain connect (no bind) */
    c = socket(AF_INET, SOCK_STREAM, 0);
    setint("nodelay", c, IPPROTO_TCP, TCP_NODELAY, 1);
    setint("keepalive", c, SOL_SOCKET, SO_KEEPALIVE, 1);
    setint("reuseport", c, SOL_SOCKET, SO_REUSEPORT, 1);
    readback("plain", c);
    exchange("plain", c, l, &a);

    /* a listener's options after listen are inherited by what it accepts */
    struct sockaddr_in a2;
    int l2 = loopback_listener(&a2, 4);
    setint("listener nodelay", l2, IPPROTO_TCP, TCP_NODELAY, 1);
    setint("listener keepalive", l2, SOL_SOCKET, SO_KEEPALIVE, 1);
    c = socket(AF_INET, SOCK_STREAM, 0);
    exchange("inherited", c, l2, &a2);
    close(l2);

    /* a dup2 copy connects: the options set on the original hold */
    c = socket(AF_INET, SOCK_STREAM, 0);
    setint("dup: nodelay", c, IPPROTO_TCP, TCP_NODELAY, 1);
    setint("dup: sndbuf", c, SOL_SOCKET, SO_SNDBUF, 9000);
    int d = dup2(c, 40);
    close(c);
    readback("dup2 copy", d);
    exchange("dup2", d, l, &a);

    /* a forked child connects the socket the parent set up */
    c = socket(AF_INET, SOCK_STREAM, 0);
    setint("fork: nodelay", c, IPPROTO_TCP, TCP_NODELAY, 1);
    setint("fork: rcvbuf", c, SOL_SOCKET, SO_RCVBUF, 12000);
    pid_t p = fork();
    if (p == 0) {
        readback("child", c);
        show("child connect", connect(c, (struct sockaddr *)&a, sizeof a));
        _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    close(c);
    int s = accept(l, NULL, NULL);
    printf("fork: accepted %d nodelay %d\n", s >= 0, getint(s, IPPROTO_TCP, TCP_NODELAY));
    close(s);

    /* a non-blocking connect: EINPROGRESS, then writable, SO_ERROR 0 */
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setint("nb: sndbuf", c, SOL_SOCKET, SO_SNDBUF, 20000);
    show("nb: connect", connect(c, (struct sockaddr *)&a, sizeof a));
    struct pollfd pf = {c, POLLOUT, 0};
    show("nb: poll", poll(&pf, 1, 2000));
    printf("nb: revents 0x%x so_error %d sndbuf %d\n", pf.revents, getint(c, SOL_SOCKET, SO_ERROR),
           getint(c, SOL_SOCKET, SO_SNDBUF));
    s = accept(l, NULL, NULL);
    close(s);
    close(c);

    /* refused, blocking and not */
    struct sockaddr_in none = a;
    close(l);
    c = socket(AF_INET, SOCK_STREAM, 0);
    setint("refused: reuseaddr", c, SOL_SOCKET, SO_REUSEADDR, 1);
    show("refused: connect", connect(c, (struct sockaddr *)&none, sizeof none));
    readback("refused", c);
    close(c);
    c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("refused nb: connect", connect(c, (struct sockaddr *)&none, sizeof none));
    pf.fd = c;
    show("refused nb: poll", poll(&pf, 1, 2000));
    printf("refused nb: so_error %s\n", strerrorname_np(getint(c, SOL_SOCKET, SO_ERROR)));
    close(c);
    return 0;
}
