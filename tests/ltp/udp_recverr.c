/* udp_recverr: IP_RECVERR / IPV6_RECVERR on UDP sockets: an ICMP port unreachable for a
 * datagram sent to a closed port of lo is queued; recvmsg(MSG_ERRQUEUE) returns the
 * original payload, the destination as msg_name, MSG_ERRQUEUE in msg_flags and one
 * control message with struct sock_extended_err and the offender address, laid out as
 * Linux does.  Prints return values, errno names and the bytes of the cmsg. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <time.h> /* linux/errqueue.h needs struct timespec */
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

/* a port nobody listens on: bound and closed again */
static int closed_port(int family)
{
    int t = socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage a;
    memset(&a, 0, sizeof a);
    a.ss_family = (sa_family_t)family;
    socklen_t l = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    bind(t, (struct sockaddr *)&a, l);
    getsockname(t, (struct sockaddr *)&a, &l);
    close(t);
    return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

static void errq(const char *what, int fd, size_t cap)
{
    /* Linux queues the ICMP error before sendto returns (loopback is synchronous); a
     * stack in another process answers a moment later: wait, bounded, for POLLERR. */
    struct pollfd p = {fd, 0, 0};
    poll(&p, 1, 500);
    char buf[64], cb[256];
    struct sockaddr_storage from;
    memset(&from, 0, sizeof from);
    memset(buf, 0, sizeof buf);
    struct iovec io = {buf, cap};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = cb;
    m.msg_controllen = sizeof cb;
    ssize_t r = recvmsg(fd, &m, MSG_ERRQUEUE);
    show(what, r);
    if (r < 0)
        return;
    char host[64] = "?";
    if (from.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, host, sizeof host);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, host, sizeof host);
    printf("  data '%.*s' flags%s%s namelen %u name %s\n", (int)r, buf,
           m.msg_flags & MSG_ERRQUEUE ? " ERRQUEUE" : "", m.msg_flags & MSG_TRUNC ? " TRUNC" : "",
           (unsigned)m.msg_namelen, host);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        printf("  cmsg len %zu level %d type %d\n", (size_t)c->cmsg_len, c->cmsg_level,
               c->cmsg_type);
        struct sock_extended_err ee;
        memcpy(&ee, CMSG_DATA(c), sizeof ee);
        printf("  ee_errno %s origin %u type %u code %u pad %u info %u data %u\n",
               strerrorname_np((int)ee.ee_errno), ee.ee_origin, ee.ee_type, ee.ee_code,
               ee.ee_pad, ee.ee_info, ee.ee_data);
        struct sockaddr_storage off;
        memset(&off, 0, sizeof off);
        size_t ol = c->cmsg_len - CMSG_LEN(sizeof ee);
        memcpy(&off, CMSG_DATA(c) + sizeof ee, ol < sizeof off ? ol : sizeof off);
        char oh[64] = "?";
        if (off.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&off)->sin_addr, oh, sizeof oh);
        else if (off.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&off)->sin6_addr, oh, sizeof oh);
        printf("  offender family %d %s port %d\n", off.ss_family, oh,
               ntohs(((struct sockaddr_in *)&off)->sin_port));
    }
    fflush(stdout);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int one = 1, zero = 0;
    char b[16];
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(closed_port(AF_INET)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    errq("MSG_ERRQUEUE before IP_RECVERR", s, sizeof b);
    show("IP_RECVERR 1", setsockopt(s, SOL_IP, IP_RECVERR, &one, sizeof one));
    show("sendto closed port", sendto(s, "hello", 5, 0, (struct sockaddr *)&d, sizeof d));
    errq("recvmsg(MSG_ERRQUEUE)", s, sizeof b);
    show("recv after (error consumed)", recv(s, b, sizeof b, MSG_DONTWAIT));
    errq("MSG_ERRQUEUE empty", s, sizeof b);
    show("sendto closed port", sendto(s, "hello again", 11, 0, (struct sockaddr *)&d, sizeof d));
    errq("recvmsg(MSG_ERRQUEUE) 4-byte buffer", s, 4);
    /* a datagram that arrives behind a queued error: there once the error queue is read */
    show("sendto closed port", sendto(s, "third", 5, 0, (struct sockaddr *)&d, sizeof d));
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int p = socket(AF_INET, SOCK_DGRAM, 0);
    show("sendto(s) from another socket", sendto(p, "behind", 6, 0, (struct sockaddr *)&me, ml));
    errq("recvmsg(MSG_ERRQUEUE) with a datagram queued", s, sizeof b);
    struct pollfd pin = {s, POLLIN, 0};
    poll(&pin, 1, 2000);
    memset(b, 0, sizeof b);
    show("recv(the datagram)", recv(s, b, sizeof b, MSG_DONTWAIT));
    printf("  data '%s'\n", b);
    close(p);
    show("IP_RECVERR 0", setsockopt(s, SOL_IP, IP_RECVERR, &zero, sizeof zero));
    close(s);

    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 d6 = {.sin6_family = AF_INET6, .sin6_port = htons(closed_port(AF_INET6)),
                              .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    show("IPV6_RECVERR 1", setsockopt(s6, SOL_IPV6, IPV6_RECVERR, &one, sizeof one));
    show("sendto [::1] closed port", sendto(s6, "six", 3, 0, (struct sockaddr *)&d6, sizeof d6));
    errq("recvmsg(MSG_ERRQUEUE) v6", s6, sizeof b);
    close(s6);
    return 0;
}
