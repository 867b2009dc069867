/* tcp_basic: the TCP socket calls of a simple client and server over loopback.
 * Prints every return value, errno and byte it sees, and nothing that varies from
 * run to run (no port numbers, no timings), so the output natively and under
 * rocketnet must be identical. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <fcntl.h>

#include "conformance.h"

static unsigned short port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void show_name(const char *what, int fd, int peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                 : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (r < 0) {
        show(what, r);
        return;
    }
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
    else if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
    printf("%-44s = 0 family=%d len=%u addr=%s\n", what, ss.ss_family, (unsigned)len, ip);
}

static void show_int_opt(const char *what, int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    int r = getsockopt(fd, level, name, &v, &len);
    if (r < 0)
        show(what, r);
    else
        printf("%-44s = 0 value=%d len=%u\n", what, v, (unsigned)len);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int one = 1;
    char buf[64];

    /* fd numbers and bind rules */
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    show("socket(AF_INET, SOCK_STREAM)", lst);
    struct sockaddr_in a = v4("127.0.0.1", 0);
    show("setsockopt(SO_REUSEADDR, 1)", setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    show_int_opt("getsockopt(SO_REUSEADDR)", lst, SOL_SOCKET, SO_REUSEADDR);
    show_int_opt("getsockopt(SO_TYPE)", lst, SOL_SOCKET, SO_TYPE);
    show_int_opt("getsockopt(SO_DOMAIN)", lst, SOL_SOCKET, SO_DOMAIN);
    show_int_opt("getsockopt(SO_ACCEPTCONN) before listen", lst, SOL_SOCKET, SO_ACCEPTCONN);
    show("bind(addrlen 8)", bind(lst, (struct sockaddr *)&a, 8));
    struct sockaddr_in6 wrong;
    memset(&wrong, 0, sizeof wrong);
    wrong.sin6_family = AF_INET6;
    show("bind(AF_INET6 address on AF_INET socket)", bind(lst, (struct sockaddr *)&wrong, sizeof wrong));
    struct sockaddr_in far = v4("10.254.253.252", 0);
    show("bind(address not on this host)", bind(lst, (struct sockaddr *)&far, sizeof far));
    show("bind(127.0.0.1:0)", bind(lst, (struct sockaddr *)&a, sizeof a));
    printf("%-44s = %d\n", "bound port is non-zero", port_of(lst) != 0);
    show("bind again", bind(lst, (struct sockaddr *)&a, sizeof a));
    show_name("getsockname(listener)", lst, 0);
    show_name("getpeername(unconnected)", lst, 1);
    unsigned short port = port_of(lst);

    int dup_ = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in same = v4("127.0.0.1", port);
    show("bind(same port, second socket)", bind(dup_, (struct sockaddr *)&same, sizeof same));
    show("accept(not listening)", accept(dup_, NULL, NULL));
    show("close(second socket)", close(dup_));

    show("listen(5)", listen(lst, 5));
    show_int_opt("getsockopt(SO_ACCEPTCONN)", lst, SOL_SOCKET, SO_ACCEPTCONN);

    /* a blocking client */
    int cli = socket(AF_INET, SOCK_STREAM, 0);
    show("socket(client)", cli);
    show("connect(listener)", connect(cli, (struct sockaddr *)&same, sizeof same));
    show("connect(again)", connect(cli, (struct sockaddr *)&same, sizeof same));
    show_name("getpeername(client)", cli, 1);
    show_name("getsockname(client)", cli, 0);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int srv = accept(lst, (struct sockaddr *)&peer, &plen);
    show("accept", srv);
    printf("%-44s = family=%d len=%u\n", "accept peer", peer.ss_family, (unsigned)plen);
    printf("%-44s = %d\n", "accepted local port == listener port", port_of(srv) == port);
    show("setsockopt(TCP_NODELAY, 1)", setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    show_int_opt("getsockopt(TCP_NODELAY)", cli, IPPROTO_TCP, TCP_NODELAY);

    show("send(client, hello)", send(cli, "hello", 5, 0));
    memset(buf, 0, sizeof buf);
    show("recv(server)", recv(srv, buf, sizeof buf, 0));
    printf("%-44s = %s\n", "bytes", buf);
    show("shutdown(client, SHUT_WR)", shutdown(cli, SHUT_WR));
    show("recv(server) after peer FIN", recv(srv, buf, sizeof buf, 0));
    show("write(server, bye)", write(srv, "bye", 3));
    memset(buf, 0, sizeof buf);
    show("read(client)", read(cli, buf, sizeof buf));
    printf("%-44s = %s\n", "bytes", buf);
    show("close(server side)", close(srv));
    show("read(client) after close", read(cli, buf, sizeof buf));
    show("close(client)", close(cli));

    /* refused connects, blocking and not */
    int gone = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = v4("127.0.0.1", 0);
    bind(gone, (struct sockaddr *)&any, sizeof any);
    struct sockaddr_in closed = v4("127.0.0.1", port_of(gone));
    close(gone);
    int r1 = socket(AF_INET, SOCK_STREAM, 0);
    show("connect(closed port)", connect(r1, (struct sockaddr *)&closed, sizeof closed));
    close(r1);
    int r2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("connect(closed port, non-blocking)", connect(r2, (struct sockaddr *)&closed, sizeof closed));
    struct pollfd pfd = {.fd = r2, .events = POLLIN | POLLOUT};
    show("poll", poll(&pfd, 1, 5000));
    printf("%-44s = %s%s%s\n", "revents has", pfd.revents & POLLOUT ? "OUT " : "",
           pfd.revents & POLLERR ? "ERR " : "", pfd.revents & POLLHUP ? "HUP" : "");
    show_int_opt("getsockopt(SO_ERROR)", r2, SOL_SOCKET, SO_ERROR);
    show_int_opt("getsockopt(SO_ERROR) again", r2, SOL_SOCKET, SO_ERROR);
    close(r2);

    /* a non-blocking connect that succeeds */
    int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    show("connect(non-blocking)", connect(nb, (struct sockaddr *)&same, sizeof same));
    pfd.fd = nb;
    pfd.events = POLLOUT;
    show("poll(POLLOUT)", poll(&pfd, 1, 5000));
    printf("%-44s = %d\n", "revents", pfd.revents);
    show_int_opt("getsockopt(SO_ERROR)", nb, SOL_SOCKET, SO_ERROR);
    srv = accept4(lst, NULL, NULL, SOCK_CLOEXEC);
    show("accept4(SOCK_CLOEXEC)", srv);
    printf("%-44s = %d\n", "FD_CLOEXEC", fcntl(srv, F_GETFD) & FD_CLOEXEC);
    show("send(non-blocking client)", send(nb, "0123456789", 10, 0));
    show("recv(accepted)", recv(srv, buf, sizeof buf, 0));
    close(srv);
    close(nb);

    /* the raw syscall() path */
    int raw = socket(AF_INET, SOCK_STREAM, 0);
    show("syscall(SYS_connect)", syscall(SYS_connect, raw, &same, sizeof same));
    srv = accept(lst, NULL, NULL);
    show("accept after raw connect", srv);
    close(srv);
    close(raw);

    /* dual stack: an AF_INET6 listener on :: takes an IPv4 client */
    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    show("socket(AF_INET6)", l6);
    show_int_opt("getsockopt(IPV6_V6ONLY)", l6, IPPROTO_IPV6, IPV6_V6ONLY);
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_addr = in6addr_any;
    show("bind([::]:0)", bind(l6, (struct sockaddr *)&a6, sizeof a6));
    show("listen", listen(l6, 1));
    int c4 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to6 = v4("127.0.0.1", port_of(l6));
    show("connect(v4 client to v6 listener)", connect(c4, (struct sockaddr *)&to6, sizeof to6));
    srv = accept(l6, NULL, NULL);
    show("accept", srv);
    show_name("getpeername(accepted, mapped)", srv, 1);
    show_name("getsockname(accepted, mapped)", srv, 0);
    close(srv);
    close(c4);
    int c6 = socket(AF_INET6, SOCK_STREAM, 0);
    a6.sin6_addr = in6addr_loopback;
    a6.sin6_port = htons(port_of(l6));
    show("connect([::1])", connect(c6, (struct sockaddr *)&a6, sizeof a6));
    srv = accept(l6, NULL, NULL);
    show_name("getpeername(accepted, v6)", srv, 1);
    close(srv);
    close(c6);
    close(l6);
    close(lst);
    int last = socket(AF_INET, SOCK_STREAM, 0);
    show("socket() reuses the lowest fd", last);
    close(last);
    return 0;
}
