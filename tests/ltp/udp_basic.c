/* udp_basic: UDP socket semantics over loopback (IPv4 and IPv6): bind/connect/
 * unconnected sends, addresses, MSG_PEEK/MSG_TRUNC, zero-length datagrams,
 * connect(AF_UNSPEC), EMSGSIZE, ECONNREFUSED on a connected socket, SO_ERROR,
 * getsockname/getpeername, poll, read/write/readv/writev/recvmsg/sendmsg/recvmmsg.
 * Prints return values, errnos and bytes, never port numbers or timings. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conformance.h"

static struct sockaddr_in6 v6(const char *ip, unsigned short port)
{
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

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

/* address without the port; port shown only as zero / nonzero */
static void show_addr(const char *what, const struct sockaddr_storage *ss, socklen_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    printf("%-44s   family=%d addr=%s port=%s len=%u\n", what, ss->ss_family, ip,
           port ? "set" : "0", (unsigned)len);
}

static void show_name(const char *what, int fd, int peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                 : getsockname(fd, (struct sockaddr *)&ss, &len);
    show(what, r);
    if (r == 0)
        show_addr(what, &ss, len);
}

static void show_recvfrom(const char *what, int fd, size_t cap, int flags)
{
    char buf[70000];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    ssize_t r = recvfrom(fd, buf, cap, flags, (struct sockaddr *)&ss, &len);
    show(what, r);
    if (r >= 0) {
        size_t n = (size_t)r < cap ? (size_t)r : cap;
        printf("%-44s   data=\"%.*s\"\n", what, (int)(n > 40 ? 40 : n), buf);
        show_addr(what, &ss, len);
    }
}

static int revents(int fd, short ev)
{
    struct pollfd p = {fd, ev, 0};
    int r = poll(&p, 1, 200);
    return r <= 0 ? r : p.revents;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int v = 0;
    socklen_t vl = sizeof v;

    /* ---- socket, names, unbound behaviour */
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    int s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    show("socket(AF_INET, SOCK_DGRAM, 0) >= 0", r >= 0);
    show("socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP) >= 0", s >= 0);
    show("socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP)", socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP));
    show_name("getsockname(unbound)", r, 0);
    show_name("getpeername(unbound)", r, 1);
    show("listen(udp)", listen(r, 5));
    show("accept(udp)", accept(r, NULL, NULL));
    show("getsockopt(SO_TYPE)", getsockopt(r, SOL_SOCKET, SO_TYPE, &v, &vl));
    printf("  SO_TYPE=%d\n", v);
    vl = sizeof v;
    show("getsockopt(SO_PROTOCOL)", getsockopt(r, SOL_SOCKET, SO_PROTOCOL, &v, &vl));
    printf("  SO_PROTOCOL=%d\n", v);
    vl = sizeof v;
    show("getsockopt(SO_RCVBUF)", getsockopt(r, SOL_SOCKET, SO_RCVBUF, &v, &vl));
    printf("  SO_RCVBUF=%d\n", v);
    vl = sizeof v;
    show("getsockopt(SO_ERROR)", getsockopt(r, SOL_SOCKET, SO_ERROR, &v, &vl));
    printf("  SO_ERROR=%d\n", v);
    show("send(unconnected)", send(s, "x", 1, 0));
    show("write(unconnected)", write(s, "x", 1));
    show("shutdown(unconnected)", shutdown(s, SHUT_RDWR) == 0 ? 0 : -1);
    close(s);
    s = socket(AF_INET, SOCK_DGRAM, 0);

    struct sockaddr_in a = v4("127.0.0.1", 0);
    show("bind(127.0.0.1:0)", bind(r, (struct sockaddr *)&a, sizeof a));
    show_name("getsockname(bound)", r, 0);
    show("bind again", bind(r, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in to = v4("127.0.0.1", port_of(r));

    /* ---- sendto errors */
    show("sendto(short addrlen)", sendto(s, "x", 1, 0, (struct sockaddr *)&to, 8));
    struct sockaddr_in zero = v4("127.0.0.1", 0);
    show("sendto(port 0)", sendto(s, "x", 1, 0, (struct sockaddr *)&zero, sizeof zero));
    struct sockaddr_in6 six = v6("::1", port_of(r));
    show("sendto(AF_INET6 addr on AF_INET)", sendto(s, "x", 1, 0, (struct sockaddr *)&six,
                                                     sizeof six));
    static char big[70000];
    show("sendto(65508 bytes)", sendto(s, big, 65508, 0, (struct sockaddr *)&to, sizeof to));
    /* loopback's directed broadcast: 255.255.255.255 depends on the machine's routes */
    struct sockaddr_in bc = v4("127.255.255.255", 9);
    show("sendto(broadcast, no SO_BROADCAST)", sendto(s, "x", 1, 0, (struct sockaddr *)&bc,
                                                       sizeof bc));
    show("sendto(bad buffer)", sendto(s, (void *)-1, 10, 0, (struct sockaddr *)&to, sizeof to));

    /* ---- data: unconnected */
    show("sendto(hello)", sendto(s, "hello", 5, 0, (struct sockaddr *)&to, sizeof to));
    show_name("getsockname(sender, autobound)", s, 0);
    show_recvfrom("recvfrom(hello)", r, 100, 0);
    show("sendto(abcdefgh)", sendto(s, "abcdefgh", 8, 0, (struct sockaddr *)&to, sizeof to));
    show_recvfrom("recvfrom(3, MSG_PEEK)", r, 3, MSG_PEEK);
    show_recvfrom("recvfrom(3, MSG_PEEK|MSG_TRUNC)", r, 3, MSG_PEEK | MSG_TRUNC);
    show_recvfrom("recvfrom(4) truncates", r, 4, 0);
    show("sendto(0 bytes)", sendto(s, "", 0, 0, (struct sockaddr *)&to, sizeof to));
    show("poll(POLLIN) zero-length datagram", revents(r, POLLIN));
    show_recvfrom("recvfrom(zero-length)", r, 100, 0);
    show("recv(MSG_DONTWAIT) empty", recv(r, big, 10, MSG_DONTWAIT));
    show("recv(MSG_ERRQUEUE) empty", recv(r, big, 10, MSG_ERRQUEUE | MSG_DONTWAIT));
    show("poll(POLLIN|POLLOUT) empty", revents(r, POLLIN | POLLOUT));
    show("sendto(65507 bytes)", sendto(s, big, 65507, 0, (struct sockaddr *)&to, sizeof to));
    show("recv(65507 bytes)", recv(r, big, sizeof big, 0));
    show("sendto(abc)", sendto(s, "abc", 3, 0, (struct sockaddr *)&to, sizeof to));
    show("recv(1, MSG_TRUNC) real length", recv(r, big, 1, MSG_TRUNC));
    show("sendto(xyz)", sendto(s, "xyz", 3, 0, (struct sockaddr *)&to, sizeof to));
    struct sockaddr_storage junk; /* never written: the kernel fails on the length first */
    show("recvfrom(bad addrlen ptr)", recvfrom(r, big, 10, 0, (struct sockaddr *)&junk,
                                               (socklen_t *)-1));
    show("recv after consumed by EFAULT", recv(r, big, 10, MSG_DONTWAIT));

    /* ---- msghdr variants */
    struct iovec iv[2] = {{"ab", 2}, {"cde", 3}};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &to;
    mh.msg_namelen = sizeof to;
    mh.msg_iov = iv;
    mh.msg_iovlen = 2;
    show("sendmsg(2 iovecs)", sendmsg(s, &mh, 0));
    char b1[2], b2[10];
    struct iovec ov[2] = {{b1, 2}, {b2, 2}};
    struct sockaddr_storage from;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = ov;
    mh.msg_iovlen = 2;
    mh.msg_controllen = 0;
    ssize_t k = recvmsg(r, &mh, 0);
    show("recvmsg(2+2 bytes of 5)", k);
    printf("  data=%.2s%.2s flags=%#x namelen=%u\n", b1, b2, (unsigned)mh.msg_flags,
           (unsigned)mh.msg_namelen);

    /* ---- connected sockets */
    show("connect(s, r)", connect(s, (struct sockaddr *)&to, sizeof to));
    show_name("getpeername(connected)", s, 1);
    show_name("getsockname(connected)", s, 0);
    show("send(connected)", send(s, "one", 3, 0));
    show("write(connected)", write(s, "two", 3));
    struct iovec wv[2] = {{"thr", 3}, {"ee", 2}};
    show("writev(connected)", writev(s, wv, 2));
    show("read", read(r, b2, sizeof b2));
    printf("  data=%.3s\n", b2);
    show("recv", recv(r, b2, sizeof b2, 0));
    struct iovec rv[1] = {{b2, sizeof b2}};
    show("readv", readv(r, rv, 1));
    printf("  data=%.5s\n", b2);

    /* a connected socket receives only from its peer */
    int o = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sto = v4("127.0.0.1", port_of(s));
    show("sendto(connected s) from a stranger", sendto(o, "no", 2, 0, (struct sockaddr *)&sto,
                                                       sizeof sto));
    show("sendto(connected s) from its peer", sendto(r, "yes", 3, 0, (struct sockaddr *)&sto,
                                                     sizeof sto));
    show_recvfrom("recvfrom(s): only the peer's", s, 100, 0);
    show("recv(s) nothing else", recv(s, b2, sizeof b2, MSG_DONTWAIT));
    close(o);

    /* connect(AF_UNSPEC) dissolves */
    struct sockaddr un;
    memset(&un, 0, sizeof un);
    un.sa_family = AF_UNSPEC;
    show("connect(AF_UNSPEC)", connect(s, &un, sizeof un));
    show_name("getpeername(after AF_UNSPEC)", s, 1);
    show_name("getsockname(after AF_UNSPEC)", s, 0);
    show("send(after AF_UNSPEC)", send(s, "x", 1, 0));
    show("connect(AF_UNSPEC) again", connect(s, &un, sizeof un));

    /* ---- ICMP port unreachable -> ECONNREFUSED on a connected socket */
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    int tmp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = v4("127.0.0.1", 0);
    bind(tmp, (struct sockaddr *)&any, sizeof any);
    struct sockaddr_in dead = v4("127.0.0.1", port_of(tmp));
    close(tmp);
    show("connect(to a closed port)", connect(c, (struct sockaddr *)&dead, sizeof dead));
    show("send(to a closed port)", send(c, "x", 1, 0));
    usleep(100000);
    show("recv -> ECONNREFUSED", recv(c, b2, sizeof b2, 0));
    show("recv again (error taken)", recv(c, b2, sizeof b2, MSG_DONTWAIT));
    show("send(to a closed port) again", send(c, "x", 1, 0));
    usleep(100000);
    vl = sizeof v;
    show("getsockopt(SO_ERROR)", getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl));
    printf("  SO_ERROR=%s\n", v ? strerrorname_np(v) : "0");
    show("recv after SO_ERROR took it", recv(c, b2, sizeof b2, MSG_DONTWAIT));
    show("send(to a closed port) 3", send(c, "x", 1, 0));
    usleep(100000);
    show("send -> ECONNREFUSED", send(c, "x", 1, 0));
    close(c);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("sendto(closed port) unconnected", sendto(u, "x", 1, 0, (struct sockaddr *)&dead,
                                                   sizeof dead));
    usleep(100000);
    show("recv(unconnected): no error", recv(u, b2, sizeof b2, MSG_DONTWAIT));
    close(u);

    /* ---- IPv6 and dual stack */
    int r6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 any6 = v6("::", 0);
    show("bind([::]:0)", bind(r6, (struct sockaddr *)&any6, sizeof any6));
    struct sockaddr_in to4 = v4("127.0.0.1", port_of(r6));
    show("sendto(v4 -> dual-stack v6)", sendto(s, "mapped", 6, 0, (struct sockaddr *)&to4,
                                               sizeof to4));
    show_recvfrom("recvfrom(v6 socket, v4 sender)", r6, 100, 0);
    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 to6 = v6("::1", port_of(r6));
    show("sendto(::1)", sendto(s6, "six", 3, 0, (struct sockaddr *)&to6, sizeof to6));
    show_recvfrom("recvfrom(v6)", r6, 100, 0);
    show("sendto(65528 bytes v6)", sendto(s6, big, 65528, 0, (struct sockaddr *)&to6,
                                          sizeof to6));
    show("sendto(65527 bytes v6)", sendto(s6, big, 65527, 0, (struct sockaddr *)&to6,
                                          sizeof to6));
    show("recv(65527 bytes v6)", recv(r6, big, sizeof big, 0));
    struct sockaddr_in6 m4 = v6("::ffff:127.0.0.1", port_of(r6));
    show("sendto(v4-mapped, 65508 bytes)", sendto(s6, big, 65508, 0, (struct sockaddr *)&m4,
                                                  sizeof m4));
    show("connect(v6, ::1)", connect(s6, (struct sockaddr *)&to6, sizeof to6));
    show_name("getsockname(v6 connected)", s6, 0);
    show_name("getpeername(v6 connected)", s6, 1);
    int one = 1;
    int w = socket(AF_INET6, SOCK_DGRAM, 0);
    show("setsockopt(IPV6_V6ONLY)", setsockopt(w, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
    show("sendto(v4-mapped on V6ONLY)", sendto(w, "x", 1, 0, (struct sockaddr *)&m4, sizeof m4));
    close(w);

    /* ---- SO_REUSEADDR: the last bound socket gets unicast */
    int x1 = socket(AF_INET, SOCK_DGRAM, 0), x2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in xa = v4("127.0.0.1", 0);
    show("bind(x1)", bind(x1, (struct sockaddr *)&xa, sizeof xa));
    xa.sin_port = htons(port_of(x1));
    show("bind(x2, same port, no SO_REUSEADDR)", bind(x2, (struct sockaddr *)&xa, sizeof xa));
    show("setsockopt(x1, SO_REUSEADDR)", setsockopt(x1, SOL_SOCKET, SO_REUSEADDR, &one,
                                                    sizeof one));
    show("setsockopt(x2, SO_REUSEADDR)", setsockopt(x2, SOL_SOCKET, SO_REUSEADDR, &one,
                                                    sizeof one));
    show("bind(x2, same port, SO_REUSEADDR)", bind(x2, (struct sockaddr *)&xa, sizeof xa));
    show("sendto(shared port)", sendto(s, "who", 3, 0, (struct sockaddr *)&xa, sizeof xa));
    show("poll(x2, POLLIN)", revents(x2, POLLIN));
    show("recv(x2, MSG_DONTWAIT)", recv(x2, b2, sizeof b2, MSG_DONTWAIT));
    show("recv(x1, MSG_DONTWAIT)", recv(x1, b2, sizeof b2, MSG_DONTWAIT));
    show("setsockopt(SO_BROADCAST)", setsockopt(s, SOL_SOCKET, SO_BROADCAST, &one, sizeof one));
    vl = sizeof v;
    show("getsockopt(SO_BROADCAST)", getsockopt(s, SOL_SOCKET, SO_BROADCAST, &v, &vl));
    printf("  SO_BROADCAST=%d\n", v);

    /* ---- fork: the child sends on the inherited socket */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        sendto(s, "child", 5, 0, (struct sockaddr *)&to, sizeof to);
        _exit(0);
    }
    show_recvfrom("recvfrom(child's datagram)", r, 100, 0);

    /* ---- recvmmsg / sendmmsg */
    struct mmsghdr mm[3];
    struct iovec mi[3] = {{"m1", 2}, {"m22", 3}, {"m333", 4}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &mi[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &to;
        mm[i].msg_hdr.msg_namelen = sizeof to;
    }
    show("sendmmsg(3)", sendmmsg(s, mm, 3, 0));
    char mb[3][8];
    struct iovec mo[3] = {{mb[0], 8}, {mb[1], 8}, {mb[2], 8}};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        mm[i].msg_hdr.msg_iov = &mo[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    usleep(50000);
    show("recvmmsg(3, MSG_WAITFORONE)", recvmmsg(r, mm, 3, MSG_WAITFORONE, NULL));
    for (int i = 0; i < 3; i++)
        printf("  [%d] len=%u data=%.*s\n", i, mm[i].msg_len, (int)mm[i].msg_len, mb[i]);

    /* ---- non-blocking and close */
    fcntl(r, F_SETFL, O_NONBLOCK);
    show("recv(O_NONBLOCK) empty", recv(r, b2, sizeof b2, 0));
    show("close(r)", close(r));
    show("close(s)", close(s));
    return 0;
}
