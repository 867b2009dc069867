/* tcp_bindrules: TCP bind conflicts as Linux decides them (SO_REUSEADDR, SO_REUSEPORT;
 * listening vs bound vs connected vs TIME_WAIT; wildcard vs specific address; IPv4 vs
 * dual-stack IPv6 and IPV6_V6ONLY), the ephemeral port range and its parity, and
 * port exhaustion (IP_LOCAL_PORT_RANGE narrows the range for one socket).
 * Prints return values, errno names and port properties only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

static int tcp(int family, int reuseaddr, int reuseport)
{
    int fd = socket(family, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuseaddr, sizeof reuseaddr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, sizeof reuseport);
    return fd;
}

static int bind4(int fd, const char *ip, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return bind(fd, (struct sockaddr *)&a, sizeof a);
}

static int bind6(int fd, const char *ip, int port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((unsigned short)port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return bind(fd, (struct sockaddr *)&a, sizeof a);
}

static int port_of(int fd)
{
    struct sockaddr_storage a;
    socklen_t l = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
        return -1;
    return ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                        : ((struct sockaddr_in6 *)&a)->sin6_port);
}

/* a fresh port nobody uses: bind(0), note the port, close */
static int free_port(void)
{
    int fd = tcp(AF_INET, 0, 0);
    bind4(fd, "0.0.0.0", 0);
    int p = port_of(fd);
    close(fd);
    return p;
}

static void ephemeral(const char *what, int port)
{
    printf("%-44s : in 32768..60999 %d, %s\n", what, port >= 32768 && port <= 60999,
           port & 1 ? "odd" : "even");
}

static void closeall(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* a connection to listener l; *c gets the client end, returns the accepted end */
static int connect_to(int l, int *c, int reuseaddr)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    getsockname(l, (struct sockaddr *)&a, &al);
    *c = tcp(AF_INET, reuseaddr, 0);
    connect(*c, (struct sockaddr *)&a, sizeof a);
    return accept(l, NULL, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int f[8], p;

    puts("-- same address, flags");
    p = free_port();
    f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET, 0, 0);
    show("bind 127.0.0.1:p", bind4(f[0], "127.0.0.1", p));
    show("bind 127.0.0.1:p again", bind4(f[1], "127.0.0.1", p));
    closeall(f, 2);
    f[0] = tcp(AF_INET, 1, 0), f[1] = tcp(AF_INET, 0, 0);
    show("REUSEADDR on the first only: bind", bind4(f[0], "127.0.0.1", p));
    show("  second bind", bind4(f[1], "127.0.0.1", p));
    closeall(f, 2);
    f[0] = tcp(AF_INET, 1, 0), f[1] = tcp(AF_INET, 1, 0), f[2] = tcp(AF_INET, 1, 0);
    show("REUSEADDR on both: bind", bind4(f[0], "127.0.0.1", p));
    show("  second bind", bind4(f[1], "127.0.0.1", p));
    show("  listen first", listen(f[0], 1));
    show("  listen second", listen(f[1], 1));
    show("  third bind (a listener holds the port)", bind4(f[2], "127.0.0.1", p));
    closeall(f, 3);
    f[0] = tcp(AF_INET, 0, 1), f[1] = tcp(AF_INET, 0, 1), f[2] = tcp(AF_INET, 0, 0);
    show("REUSEPORT on both: bind", bind4(f[0], "127.0.0.1", p));
    show("  second bind", bind4(f[1], "127.0.0.1", p));
    show("  listen first", listen(f[0], 1));
    show("  listen second", listen(f[1], 1));
    show("  third bind without REUSEPORT", bind4(f[2], "127.0.0.1", p));
    closeall(f, 3);

    puts("-- wildcard and specific addresses");
    p = free_port();
    f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET, 0, 0), f[2] = tcp(AF_INET, 0, 0);
    show("bind 127.0.0.1:p", bind4(f[0], "127.0.0.1", p));
    show("bind 127.0.0.2:p", bind4(f[1], "127.0.0.2", p));
    show("bind 0.0.0.0:p", bind4(f[2], "0.0.0.0", p));
    closeall(f, 3);
    f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET, 0, 0);
    show("bind 0.0.0.0:p", bind4(f[0], "0.0.0.0", p));
    show("bind 127.0.0.1:p", bind4(f[1], "127.0.0.1", p));
    closeall(f, 2);
    f[0] = tcp(AF_INET, 1, 0), f[1] = tcp(AF_INET, 1, 0);
    show("REUSEADDR: bind 0.0.0.0:p", bind4(f[0], "0.0.0.0", p));
    show("  bind 127.0.0.1:p", bind4(f[1], "127.0.0.1", p));
    show("  listen the specific one", listen(f[1], 1));
    show("  listen the wildcard one", listen(f[0], 1));
    closeall(f, 2);

    puts("-- IPv4 and IPv6");
    p = free_port();
    f[0] = tcp(AF_INET6, 0, 0), f[1] = tcp(AF_INET, 0, 0), f[2] = tcp(AF_INET6, 0, 0);
    show("bind [::]:p (dual-stack)", bind6(f[0], "::", p));
    show("bind 0.0.0.0:p", bind4(f[1], "0.0.0.0", p));
    show("bind [::1]:p", bind6(f[2], "::1", p));
    closeall(f, 3);
    int one = 1;
    f[0] = tcp(AF_INET6, 0, 0), f[1] = tcp(AF_INET, 0, 0), f[2] = tcp(AF_INET6, 0, 0);
    show("IPV6_V6ONLY", setsockopt(f[0], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    show("bind [::]:p (v6 only)", bind6(f[0], "::", p));
    show("bind 0.0.0.0:p", bind4(f[1], "0.0.0.0", p));
    show("bind [::ffff:127.0.0.1]:p", bind6(f[2], "::ffff:127.0.0.1", p));
    closeall(f, 3);
    f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET6, 0, 0), f[2] = tcp(AF_INET6, 0, 0);
    show("bind 127.0.0.1:p", bind4(f[0], "127.0.0.1", p));
    show("bind [::ffff:127.0.0.1]:p", bind6(f[1], "::ffff:127.0.0.1", p));
    show("bind [::1]:p", bind6(f[2], "::1", p));
    closeall(f, 3);

    puts("-- connected and TIME_WAIT");
    for (int reuse = 0; reuse < 2; reuse++) {
        printf("client with SO_REUSEADDR %d\n", reuse);
        int l = loopback_listener(&(struct sockaddr_in){0}, 1), c;
        int s = connect_to(l, &c, reuse);
        p = port_of(c);
        ephemeral("  connect's port", p);
        f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET, 1, 0);
        show("  bind the connected port", bind4(f[0], "127.0.0.1", p));
        show("  with REUSEADDR", bind4(f[1], "127.0.0.1", p));
        closeall(f, 2);
        close(c); /* the client closes first: its port goes to TIME_WAIT */
        struct pollfd pf = {s, POLLIN, 0};
        poll(&pf, 1, 2000);
        close(s);
        usleep(100000);
        f[0] = tcp(AF_INET, 0, 0), f[1] = tcp(AF_INET, 1, 0);
        show("  bind the TIME_WAIT port", bind4(f[0], "127.0.0.1", p));
        show("  with REUSEADDR", bind4(f[1], "127.0.0.1", p));
        closeall(f, 2);
        close(l);
    }

    puts("-- ephemeral ports");
    f[0] = tcp(AF_INET, 0, 0);
    show("bind 127.0.0.1:0", bind4(f[0], "127.0.0.1", 0));
    ephemeral("  its port", port_of(f[0]));
    close(f[0]);
    f[0] = tcp(AF_INET, 0, 0);
    show("listen without bind", listen(f[0], 1));
    ephemeral("  its port", port_of(f[0]));
    close(f[0]);

    puts("-- exhaustion (IP_LOCAL_PORT_RANGE: two ports)");
    for (;;) { /* two free ports in a row */
        p = free_port();
        f[0] = tcp(AF_INET, 0, 0);
        int r = p < 65535 ? bind4(f[0], "0.0.0.0", p + 1) : -1;
        close(f[0]);
        if (r == 0)
            break;
    }
    unsigned range = (unsigned)p | ((unsigned)(p + 1) << 16);
    for (int i = 0; i < 3; i++) {
        f[i] = tcp(AF_INET, 0, 0);
        show("IP_LOCAL_PORT_RANGE",
             setsockopt(f[i], IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof range));
        int r = bind4(f[i], "127.0.0.1", 0);
        show("bind 127.0.0.1:0", r);
        if (r == 0)
            printf("  port in the range %d\n", port_of(f[i]) == p || port_of(f[i]) == p + 1);
    }
    unsigned got = 0;
    socklen_t gl = sizeof got;
    show("getsockopt IP_LOCAL_PORT_RANGE", getsockopt(f[0], IPPROTO_IP, IP_LOCAL_PORT_RANGE,
                                                       &got, &gl));
    printf("  same %d\n", got == range);
    unsigned bad = 10 | (5u << 16);
    show("IP_LOCAL_PORT_RANGE lo > hi",
         setsockopt(f[2], IPPROTO_IP, IP_LOCAL_PORT_RANGE, &bad, sizeof bad));
    /* connect: the same two ports, to a listener bound to 127.0.0.1 (a 4-tuple may reuse a
     * port bound elsewhere only if that socket allows it, which these do not) */
    struct sockaddr_in la;
    int l = loopback_listener(&la, 4);
    int c = tcp(AF_INET, 0, 0);
    setsockopt(c, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof range);
    show("connect with both ports bound", connect(c, (struct sockaddr *)&la, sizeof la));
    close(c);
    closeall(f, 3);
    close(l);
    return 0;
}
