/* udp_cmsg: recvmsg control messages of UDP sockets laid out as Linux does:
 * IP_PKTINFO, IP_RECVTTL, IP_RECVTOS, SO_TIMESTAMP(NS), IPV6_RECVPKTINFO,
 * IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS (also for IPv4 datagrams on a dual-stack
 * socket), MSG_CTRUNC with a short control buffer.  Walks the result with the
 * CMSG_* macros; prints no ports and no times (timestamps: plausibility only). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

static unsigned short port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void receive(const char *what, int fd, size_t ctl)
{
    char data[64], cbuf[512], ip[INET6_ADDRSTRLEN];
    struct iovec iov = {data, sizeof data};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    memset(cbuf, 0xAA, sizeof cbuf);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl ? cbuf : NULL;
    m.msg_controllen = ctl;
    ssize_t r = recvmsg(fd, &m, 0);
    show(what, r);
    printf("  flags=%#x controllen=%zu\n", (unsigned)m.msg_flags, (size_t)m.msg_controllen);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        printf("  cmsg level=%d type=%d len=%zu", c->cmsg_level, c->cmsg_type,
               (size_t)c->cmsg_len);
        unsigned char *d = CMSG_DATA(c);
        if (c->cmsg_len < CMSG_LEN(1)) {
            printf(" (truncated)\n");
            continue;
        }
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct timeval))) {
            struct timeval tv, now;
            memcpy(&tv, d, sizeof tv);
            gettimeofday(&now, NULL);
            printf(" timeval plausible=%d", tv.tv_sec > now.tv_sec - 10 && tv.tv_sec <= now.tv_sec);
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;
            memcpy(&ts, d, sizeof ts);
            printf(" timespec plausible=%d", ts.tv_sec > time(NULL) - 10 && ts.tv_nsec < 1000000000);
        } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
            struct in_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            char spec[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &pi.ipi_addr, ip, sizeof ip);
            inet_ntop(AF_INET, &pi.ipi_spec_dst, spec, sizeof spec);
            printf(" ifindex=%d spec_dst=%s addr=%s", pi.ipi_ifindex, spec, ip);
        } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) {
            int v;
            memcpy(&v, d, sizeof v);
            printf(" ttl=%d", v);
        } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_TOS) {
            printf(" tos=%d", d[0]);
        } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
            struct in6_pktinfo pi;
            memcpy(&pi, d, sizeof pi);
            inet_ntop(AF_INET6, &pi.ipi6_addr, ip, sizeof ip);
            printf(" ifindex=%u addr=%s", pi.ipi6_ifindex, ip);
        } else if (c->cmsg_level == SOL_IPV6 &&
                   (c->cmsg_type == IPV6_HOPLIMIT || c->cmsg_type == IPV6_TCLASS)) {
            int v;
            memcpy(&v, d, sizeof v);
            printf(" value=%d", v);
        }
        printf("\n");
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int one = 1;
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    bind(r, (struct sockaddr *)&a, sizeof a);
    a.sin_port = htons(port_of(r));

    sendto(s, "plain", 5, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(no options)", r, 256);
    show("setsockopt(IP_PKTINFO)", setsockopt(r, SOL_IP, IP_PKTINFO, &one, sizeof one));
    sendto(s, "pkt", 3, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(IP_PKTINFO)", r, 256);
    show("setsockopt(IP_RECVTTL)", setsockopt(r, SOL_IP, IP_RECVTTL, &one, sizeof one));
    show("setsockopt(IP_RECVTOS)", setsockopt(r, SOL_IP, IP_RECVTOS, &one, sizeof one));
    show("setsockopt(SO_TIMESTAMP)", setsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one));
    int v = 0;
    socklen_t vl = sizeof v;
    show("getsockopt(IP_PKTINFO)", getsockopt(r, SOL_IP, IP_PKTINFO, &v, &vl));
    printf("  value=%d\n", v);
    sendto(s, "all", 3, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(all, 256)", r, 256);
    sendto(s, "short", 5, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(all, 40)", r, 40);
    sendto(s, "none", 4, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(all, no buffer)", r, 0);
    show("setsockopt(SO_TIMESTAMPNS)", setsockopt(r, SOL_SOCKET, SO_TIMESTAMPNS, &one,
                                                  sizeof one));
    show("setsockopt(SO_TIMESTAMP, 0)", setsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &(int){0},
                                                   sizeof one));
    sendto(s, "ns", 2, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(TIMESTAMPNS)", r, 256);

    int r6 = socket(AF_INET6, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 b;
    memset(&b, 0, sizeof b);
    b.sin6_family = AF_INET6;
    bind(r6, (struct sockaddr *)&b, sizeof b);
    b.sin6_port = htons(port_of(r6));
    inet_pton(AF_INET6, "::1", &b.sin6_addr);
    show("setsockopt(IPV6_RECVPKTINFO)", setsockopt(r6, SOL_IPV6, IPV6_RECVPKTINFO, &one,
                                                    sizeof one));
    show("setsockopt(IPV6_RECVHOPLIMIT)", setsockopt(r6, SOL_IPV6, IPV6_RECVHOPLIMIT, &one,
                                                     sizeof one));
    show("setsockopt(IPV6_RECVTCLASS)", setsockopt(r6, SOL_IPV6, IPV6_RECVTCLASS, &one,
                                                   sizeof one));
    sendto(s6, "six", 3, 0, (struct sockaddr *)&b, sizeof b);
    receive("recvmsg(v6)", r6, 256);
    struct sockaddr_in to4 = a;
    to4.sin_port = b.sin6_port;
    sendto(s, "four", 4, 0, (struct sockaddr *)&to4, sizeof to4);
    receive("recvmsg(v4 on dual-stack v6)", r6, 256);
    show("setsockopt(v6 IP_PKTINFO)", setsockopt(r6, SOL_IP, IP_PKTINFO, &one, sizeof one));
    sendto(s, "four", 4, 0, (struct sockaddr *)&to4, sizeof to4);
    receive("recvmsg(v4 on v6, IP_PKTINFO too)", r6, 256);

    /* the received values are the sender's: IP_TTL/IP_TOS, IPV6_UNICAST_HOPS/IPV6_TCLASS */
    show("setsockopt(IP_TTL, 33)", setsockopt(s, SOL_IP, IP_TTL, &(int){33}, sizeof one));
    show("setsockopt(IP_TOS, 0x28)", setsockopt(s, SOL_IP, IP_TOS, &(int){0x28}, sizeof one));
    sendto(s, "ttl", 3, 0, (struct sockaddr *)&a, sizeof a);
    receive("recvmsg(IP_TTL 33, IP_TOS 0x28)", r, 256);
    show("setsockopt(IPV6_UNICAST_HOPS, 17)", setsockopt(s6, SOL_IPV6, IPV6_UNICAST_HOPS,
                                                         &(int){17}, sizeof one));
    show("setsockopt(IPV6_TCLASS, 0x48)", setsockopt(s6, SOL_IPV6, IPV6_TCLASS, &(int){0x48},
                                                     sizeof one));
    show("setsockopt(IPV6_TCLASS, 256)", setsockopt(s6, SOL_IPV6, IPV6_TCLASS, &(int){256},
                                                    sizeof one));
    show("setsockopt(IPV6_TCLASS, -2)", setsockopt(s6, SOL_IPV6, IPV6_TCLASS, &(int){-2},
                                                   sizeof one));
    v = 0;
    vl = sizeof v;
    show("getsockopt(IPV6_TCLASS)", getsockopt(s6, SOL_IPV6, IPV6_TCLASS, &v, &vl));
    printf("  value=%#x\n", v);
    sendto(s6, "hops", 4, 0, (struct sockaddr *)&b, sizeof b);
    receive("recvmsg(v6, hops 17, tclass 0x48)", r6, 256);
    show("setsockopt(v6 IP_TTL, 9)", setsockopt(s6, SOL_IP, IP_TTL, &(int){9}, sizeof one));
    show("setsockopt(v6 IP_TOS, 0x10)", setsockopt(s6, SOL_IP, IP_TOS, &(int){0x10},
                                                   sizeof one));
    struct sockaddr_in6 mapped = b;
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
    mapped.sin6_port = a.sin_port;
    sendto(s6, "mapped", 6, 0, (struct sockaddr *)&mapped, sizeof mapped);
    receive("recvmsg(v4-mapped from v6: IP_TTL 9, IP_TOS 0x10)", r, 256);
    show("setsockopt(IPV6_TCLASS, -1)", setsockopt(s6, SOL_IPV6, IPV6_TCLASS, &(int){-1},
                                                   sizeof one));
    show("setsockopt(IPV6_UNICAST_HOPS, -1)", setsockopt(s6, SOL_IPV6, IPV6_UNICAST_HOPS,
                                                         &(int){-1}, sizeof one));
    sendto(s6, "dflt", 4, 0, (struct sockaddr *)&b, sizeof b);
    receive("recvmsg(v6, defaults again)", r6, 256);
    show("setsockopt(AF_INET, IPV6_RECVPKTINFO)", setsockopt(r, SOL_IPV6, IPV6_RECVPKTINFO,
                                                             &one, sizeof one));
    return 0;
}
