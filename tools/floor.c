/* floor - the floor of rocketnet's process model (issue 19; `tools/cores floor` builds and
 * runs it).  A program socket is an AF_UNIX pair end A whose other end S the stack host
 * holds; the host epoll-waits on the S ends, reads, runs the stack, writes the peer's S.
 * This measures that shape with no stack at all: the same 64-byte request/response
 * client and server natively over loopback, and each on one end of a pair with a relay
 * process in between that only forwards bytes (and, for connect-per-transaction, answers
 * socket and connect RPCs by passing fresh pair ends with SCM_RIGHTS, as the host does).
 *
 *   floor tcp-server | udp-server     listen on 127.0.0.1, an ephemeral port (printed);
 *                                     answer every 64-byte request with 64 bytes
 *   floor fd-server FD                the same on an inherited fd (a pair end A)
 *   floor accept-server FD            FD is a listener's channel: each record brings a
 *                                     connection's A (SCM_RIGHTS), served until EOF
 *   floor client KIND WHERE SECONDS   KIND tcp|udp (WHERE a port), crr (a port: connect,
 *                                     one transaction, close), fd (an fd), ctl (a control
 *                                     fd: socket and connect RPCs, one transaction, close);
 *                                     prints "transactions N seconds S p50 US p99 US"
 *   floor relay CTL LISTEN FD...      forward bytes between the pair ends FD1<->FD2,
 *                                     FD3<->FD4...; CTL (or -1): a control connection
 *                                     answering RPC_SOCKET (a fresh A back) and
 *                                     RPC_CONNECT (the server's A sent on LISTEN)
 * Build: cc -O2 -std=gnu11 -o floor tools/floor.c                                   */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define RPC_SOCKET 1
#define RPC_CONNECT 2
#define MAXFD 65536

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* the whole of n bytes, or 0 at EOF / an error before any */
static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

static int recv_all(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

/* answer requests on fd until EOF (a datagram or seqpacket fd brings whole messages) */
static void serve(int fd)
{
    char buf[MSG];
    while (recv_all(fd, buf, MSG) && send_all(fd, buf, MSG))
        ;
}

static int fd_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < -1 || v >= MAXFD) {
        fprintf(stderr, "floor: bad fd %s\n", s);
        exit(2);
    }
    return (int)v;
}

static int listen_on_loopback(int type)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, type, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("bind");
    if (type == SOCK_STREAM && listen(fd, 128) < 0)
        die("listen");
    if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        die("getsockname");
    printf("%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static void udp_server(void)
{
    int fd = listen_on_loopback(SOCK_DGRAM);
    char buf[MSG];
    for (;;) {
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        ssize_t r = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (r > 0)
            sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, len);
    }
}

static void tcp_server(void)
{
    int fd = listen_on_loopback(SOCK_STREAM);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            continue;
        int one = 1;        /* as netserver: requests are never held back (Nagle) */
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve(c);
        close(c);
    }
}

/* one fd passed with a small record (the RPC reply or the accept record) */
static void send_fd(int via, int fd, uint32_t word)
{
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &word, .iov_len = sizeof word};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(via, &m, MSG_NOSIGNAL) != (ssize_t)sizeof word)
        die("sendmsg");
}

/* the fd a record brings (-1 at EOF) */
static int recv_fd(int via)
{
    uint32_t word;
    char ctl[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &word, .iov_len = sizeof word};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof ctl};
    ssize_t r = recvmsg(via, &m, MSG_CMSG_CLOEXEC);
    if (r <= 0)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (c == NULL || c->cmsg_type != SCM_RIGHTS) {
        fprintf(stderr, "floor: a record without an fd\n");
        exit(2);
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static void accept_server(int listener)
{
    int c;
    while ((c = recv_fd(listener)) >= 0) {
        serve(c);
        close(c);
    }
}

/* ---- client ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int connect_loopback(int type, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, type, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("floor: connect");   /* the run ends here, its figures so far printed */
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (type == SOCK_STREAM) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* a connection's A from the relay: socket RPC (A comes back), connect RPC (answered once
 * the server's A is on its way) */
static int ctl_connect(int ctl)
{
    uint32_t op = RPC_SOCKET, ret;
    if (!send_all(ctl, (char *)&op, sizeof op))
        die("socket rpc");
    int fd = recv_fd(ctl);
    if (fd < 0)
        die("socket rpc reply");
    op = RPC_CONNECT;
    if (!send_all(ctl, (char *)&op, sizeof op) || !recv_all(ctl, (char *)&ret, sizeof ret))
        die("connect rpc");
    return fd;
}

static void client(const char *kind, const char *where, double seconds)
{
    int per_conn = !strcmp(kind, "crr") || !strcmp(kind, "ctl");
    int fd = -1, arg = fd_arg(where);   /* a port or an fd, both below MAXFD */
    if (!strcmp(kind, "tcp"))
        fd = connect_loopback(SOCK_STREAM, arg);
    else if (!strcmp(kind, "udp")) {
        fd = connect_loopback(SOCK_DGRAM, arg);
        struct timeval t = {.tv_sec = 2};   /* a lost datagram ends the run, never hangs */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    } else if (!strcmp(kind, "fd"))
        fd = arg;
    else if (!per_conn) {
        fprintf(stderr, "floor: unknown client kind %s\n", kind);
        exit(2);
    }
    size_t cap = 1 << 16, n = 0;
    double *lat = malloc(cap * sizeof *lat);
    char buf[MSG];
    memset(buf, 'q', sizeof buf);
    double start = now_us(), end = start + seconds * 1e6, t = start;
    while (t < end) {
        if (!strcmp(kind, "crr"))
            fd = connect_loopback(SOCK_STREAM, arg);
        else if (!strcmp(kind, "ctl"))
            fd = ctl_connect(arg);
        if (fd < 0 || !send_all(fd, buf, MSG) || !recv_all(fd, buf, MSG))
            break;
        if (per_conn)
            close(fd);
        double t1 = now_us();
        if (n == cap) {
            cap *= 2;
            lat = realloc(lat, cap * sizeof *lat);
        }
        if (lat == NULL)
            die("realloc");
        lat[n++] = t1 - t;
        t = t1;
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("transactions %zu seconds %.6f p50 %.2f p99 %.2f\n", n, (t - start) / 1e6,
           n ? lat[n / 2] : 0.0, n ? lat[n * 99 / 100] : 0.0);
    free(lat);
}

/* ---- relay ------------------------------------------------------------------------- */

static int peer[MAXFD];     /* the S end each S end forwards to */
static char at_eof[MAXFD];

static void watch(int ep, int fd, int other)
{
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    if (fd >= MAXFD || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
        die("epoll_ctl");
    peer[fd] = other;
    at_eof[fd] = 0;
}

static void link_pair(int ep, int a, int b)
{
    watch(ep, a, b);
    watch(ep, b, a);
}

/* the control RPCs: the minimum the host does per connection (its S kept, A sent) */
static int rpc(int ep, int ctl, int listener, int *pending)
{
    uint32_t op, zero = 0;
    if (!recv_all(ctl, (char *)&op, sizeof op))
        return 0;
    int sv[2];
    if (op == RPC_SOCKET) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            die("socketpair");
        send_fd(ctl, sv[0], 0);
        close(sv[0]);
        *pending = sv[1];
    } else if (op == RPC_CONNECT && *pending >= 0) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            die("socketpair");
        link_pair(ep, *pending, sv[1]);
        send_fd(listener, sv[0], 0);       /* the accept record */
        close(sv[0]);
        *pending = -1;
        if (!send_all(ctl, (char *)&zero, sizeof zero))
            return 0;
    } else {
        fprintf(stderr, "floor: bad rpc %u\n", op);
        exit(2);
    }
    return 1;
}

static void relay(int ctl, int listener, int nfds, char **fds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC), live = 0, pending = -1;
    if (ep < 0)
        die("epoll_create1");
    if (ctl >= 0) {
        watch(ep, ctl, -1);
        live++;
    }
    for (int i = 0; i + 1 < nfds; i += 2) {
        link_pair(ep, fd_arg(fds[i]), fd_arg(fds[i + 1]));
        live++;
    }
    char buf[65536];
    struct epoll_event ev[64];
    while (live > 0) {
        int n = epoll_wait(ep, ev, 64, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == ctl) {
                if (!rpc(ep, ctl, listener, &pending)) {
                    close(ctl);
                    live--;
                    if (listener >= 0)
                        close(listener);    /* the server's accept loop ends */
                }
                continue;
            }
            if (at_eof[fd])
                continue;   /* closed earlier in this batch with its peer */
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0) {
                send_all(peer[fd], buf, (size_t)r);
                continue;
            }
            /* EOF (or reset): the peer's A gets a FIN; both closed once both ended */
            int p = peer[fd];
            at_eof[fd] = 1;
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            shutdown(p, SHUT_WR);
            if (at_eof[p]) {
                close(fd);
                close(p);
                if (ctl < 0)
                    live--;
            }
        }
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "tcp-server"))
        tcp_server();
    else if (argc >= 2 && !strcmp(argv[1], "udp-server"))
        udp_server();
    else if (argc >= 3 && !strcmp(argv[1], "fd-server"))
        serve(fd_arg(argv[2]));
    else if (argc >= 3 && !strcmp(argv[1], "accept-server"))
        accept_server(fd_arg(argv[2]));
    else if (argc >= 5 && !strcmp(argv[1], "client"))
        client(argv[2], argv[3], atof(argv[4]));
    else if (argc >= 4 && !strcmp(argv[1], "relay"))
        relay(fd_arg(argv[2]), fd_arg(argv[3]), argc - 4, argv + 4);
    else {
        fprintf(stderr, "usage: see the comment at the top of tools/floor.c\n");
        return 2;
    }
    return 0;
}
