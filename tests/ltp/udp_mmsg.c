/* udp_mmsg: sendmmsg/recvmmsg on UDP (IPv4 and IPv6): batches larger than one host
 * batch, per-message lengths, addresses, flags and control messages, MSG_WAITFORONE,
 * MSG_PEEK, MSG_TRUNC, the timeout argument, and the errors of the first and of a later
 * message (the count so far).  Prints return values, errnos and bytes only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "conformance.h"

#define N 100

static int udp_bound(int fam, void *addr, socklen_t *len)
{
    int s = socket(fam, SOCK_DGRAM, 0);
    if (fam == AF_INET) {
        struct sockaddr_in *a = addr;
        memset(a, 0, sizeof *a);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = addr;
        memset(a, 0, sizeof *a);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *len = sizeof *a;
    }
    bind(s, addr, *len);
    getsockname(s, addr, len);
    return s;
}

/* waits (bounded) until fd has a datagram, then until the host settled */
static void settle(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, 2000);
    usleep(50000);
}

static char payload[N][64];
static struct mmsghdr mm[N];
static struct iovec iov[N][2];

/* n messages of length 1 + i % 37, the first byte split into a second iovec */
static void fill_send(int n, void *to, socklen_t tolen)
{
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < n; i++) {
        int len = 1 + i % 37;
        memset(payload[i], 'a' + i % 26, sizeof payload[i]);
        payload[i][0] = (char)('0' + i % 10);
        iov[i][0].iov_base = payload[i];
        iov[i][0].iov_len = 1;
        iov[i][1].iov_base = payload[i] + 1;
        iov[i][1].iov_len = (size_t)len - 1;
        mm[i].msg_hdr.msg_iov = iov[i];
        mm[i].msg_hdr.msg_iovlen = 2;
        mm[i].msg_hdr.msg_name = to;
        mm[i].msg_hdr.msg_namelen = tolen;
    }
}

static char rbuf[N][64];
static struct sockaddr_storage names[N];
static char ctl[N][128];

static void fill_recv(int n, size_t buflen, int with_ctl)
{
    memset(mm, 0, sizeof mm);
    memset(rbuf, 0, sizeof rbuf);
    for (int i = 0; i < n; i++) {
        iov[i][0].iov_base = rbuf[i];
        iov[i][0].iov_len = buflen;
        mm[i].msg_hdr.msg_iov = iov[i];
        mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &names[i];
        mm[i].msg_hdr.msg_namelen = sizeof names[i];
        if (with_ctl) {
            mm[i].msg_hdr.msg_control = ctl[i];
            mm[i].msg_hdr.msg_controllen = sizeof ctl[i];
        }
    }
}

/* one line per group of received messages: lengths, flags, name length, checks */
static void show_recv(const char *what, int r, int src_port)
{
    show(what, r);
    int bad_len = 0, bad_data = 0, bad_name = 0, trunc = 0, ctrunc = 0;
    for (int i = 0; i < r; i++) {
        unsigned want = 1 + (unsigned)i % 37;
        if (mm[i].msg_len != want)
            bad_len++;
        if (rbuf[i][0] != '0' + i % 10 || (want > 1 && rbuf[i][want - 1] != 'a' + i % 26))
            bad_data++;
        int port = names[i].ss_family == AF_INET
                       ? ntohs(((struct sockaddr_in *)&names[i])->sin_port)
                       : ntohs(((struct sockaddr_in6 *)&names[i])->sin6_port);
        if (port != src_port)
            bad_name++;
        trunc += !!(mm[i].msg_hdr.msg_flags & MSG_TRUNC);
        ctrunc += !!(mm[i].msg_hdr.msg_flags & MSG_CTRUNC);
    }
    printf("  lengths wrong %d, data wrong %d, names wrong %d, MSG_TRUNC %d, MSG_CTRUNC %d\n",
           bad_len, bad_data, bad_name, trunc, ctrunc);
    if (r > 0)
        printf("  first namelen %u family %d, last msg_len %u\n", mm[0].msg_hdr.msg_namelen,
               names[0].ss_family, mm[r - 1].msg_len);
}

static void run(int fam)
{
    struct sockaddr_storage ra, sa;
    socklen_t rl, sl;
    int r = udp_bound(fam, &ra, &rl);
    int s = udp_bound(fam, &sa, &sl);
    int sport = fam == AF_INET ? ntohs(((struct sockaddr_in *)&sa)->sin_port)
                               : ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    printf("---- %s\n", fam == AF_INET ? "AF_INET" : "AF_INET6");

    /* more than one batch each way, blocking receive of exactly what was sent */
    fill_send(N, &ra, rl);
    int k = sendmmsg(s, mm, N, 0);
    show("sendmmsg(100)", k);
    int lens_ok = 1;
    for (int i = 0; i < N; i++)
        lens_ok &= mm[i].msg_len == 1 + (unsigned)i % 37;
    printf("  msg_len of every message right: %d\n", lens_ok);
    fill_recv(N, 64, 0);
    show_recv("recvmmsg(100, blocking)", recvmmsg(r, mm, N, 0, NULL), sport);

    fill_recv(N, 64, 0);
    show_recv("recvmmsg(MSG_DONTWAIT, empty)", recvmmsg(r, mm, N, MSG_DONTWAIT, NULL), sport);
    show_recv("recvmmsg(vlen 0)", recvmmsg(r, mm, 0, MSG_DONTWAIT, NULL), sport);

    /* MSG_WAITFORONE: what is queued */
    fill_send(5, &ra, rl);
    show("sendmmsg(5)", sendmmsg(s, mm, 5, 0));
    settle(r);
    fill_recv(N, 64, 0);
    show_recv("recvmmsg(100, MSG_WAITFORONE)", recvmmsg(r, mm, N, MSG_WAITFORONE, NULL), sport);

    /* truncation: MSG_TRUNC in msg_flags; with the MSG_TRUNC flag the real length */
    fill_send(40, &ra, rl);
    show("sendmmsg(40)", sendmmsg(s, mm, 40, 0));
    settle(r);
    fill_recv(N, 8, 0);
    show_recv("recvmmsg(20, 8-byte buffers)", recvmmsg(r, mm, 20, MSG_DONTWAIT, NULL), sport);
    fill_recv(N, 8, 0);
    show_recv("recvmmsg(20, 8-byte buffers, MSG_TRUNC)",
              recvmmsg(r, mm, 20, MSG_DONTWAIT | MSG_TRUNC, NULL), sport);

    /* MSG_PEEK: the same datagram each time */
    fill_send(2, &ra, rl);
    show("sendmmsg(2)", sendmmsg(s, mm, 2, 0));
    settle(r);
    fill_recv(N, 64, 0);
    k = recvmmsg(r, mm, 3, MSG_PEEK | MSG_DONTWAIT, NULL);
    show("recvmmsg(3, MSG_PEEK)", k);
    for (int i = 0; i < k; i++)
        printf("  peeked %u bytes '%c'\n", mm[i].msg_len, rbuf[i][0]);
    fill_recv(N, 64, 0);
    show_recv("recvmmsg(3, MSG_WAITFORONE) after peek", recvmmsg(r, mm, 3, MSG_WAITFORONE, NULL),
              sport);

    /* the timeout: checked after each datagram (1 ns: one datagram); invalid ones */
    fill_send(10, &ra, rl);
    show("sendmmsg(10)", sendmmsg(s, mm, 10, 0));
    settle(r);
    struct timespec t = {0, 1};
    fill_recv(N, 64, 0);
    show_recv("recvmmsg(10, timeout 1ns)", recvmmsg(r, mm, 10, 0, &t), sport);
    printf("  timeout left: %ld.%09ld\n", (long)t.tv_sec, t.tv_nsec);
    struct timespec bad = {0, 2000000000L};
    show("recvmmsg(timeout nsec 2e9)", recvmmsg(r, mm, 10, 0, &bad));
    show("recvmmsg(timeout pointer bad)", recvmmsg(r, mm, 10, 0, (struct timespec *)8));
    /* SO_RCVTIMEO ends the wait for the next datagram; the timeout argument does not */
    struct timeval tv = {0, 100000};
    setsockopt(r, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    t.tv_sec = 5;
    t.tv_nsec = 0;
    fill_recv(N, 64, 0);
    k = recvmmsg(r, mm, 20, 0, &t);
    show("recvmmsg(20, 9 queued, SO_RCVTIMEO)", k);
    printf("  first '%c', timeout left > 4s: %d\n", rbuf[0][0], t.tv_sec >= 4);
    show("recvmmsg(SO_RCVTIMEO, empty)", recvmmsg(r, mm, 20, 0, &t));

    /* errors: of the first message; of a later one (the count so far) */
    fill_send(4, &ra, rl);
    struct iovec big = {payload, 70000};
    mm[0].msg_hdr.msg_iov = &big;
    mm[0].msg_hdr.msg_iovlen = 1;
    show("sendmmsg(first too long)", sendmmsg(s, mm, 4, 0));
    fill_send(4, &ra, rl);
    mm[2].msg_hdr.msg_iov = &big;
    mm[2].msg_hdr.msg_iovlen = 1;
    show("sendmmsg(third too long)", sendmmsg(s, mm, 4, 0));
    printf("  msg_len %u %u\n", mm[0].msg_len, mm[1].msg_len);
    fill_send(4, &ra, rl);
    mm[1].msg_hdr.msg_iov = (struct iovec *)8;
    show("sendmmsg(second iov bad)", sendmmsg(s, mm, 4, 0));
    fill_send(4, &ra, rl);
    mm[3].msg_hdr.msg_iovlen = 2000;
    show("sendmmsg(fourth 2000 iovecs)", sendmmsg(s, mm, 4, 0));
    fill_send(4, &ra, rl);
    mm[0].msg_hdr.msg_namelen = 1;
    show("sendmmsg(first namelen 1)", sendmmsg(s, mm, 4, 0));
    show("sendmmsg(vec bad)", sendmmsg(s, (struct mmsghdr *)8, 4, 0));
    show("sendmmsg(vlen 0)", sendmmsg(s, mm, 0, 0));
    settle(r);
    fill_recv(N, 64, 0);
    show_recv("recvmmsg(what the errors let through)", recvmmsg(r, mm, N, MSG_DONTWAIT, NULL),
              sport);
    fill_recv(N, 64, 0);
    mm[0].msg_hdr.msg_iov = (struct iovec *)8;
    show("recvmmsg(first iov bad)", recvmmsg(r, mm, N, MSG_DONTWAIT, NULL));
    show("recvmmsg(vec bad)", recvmmsg(r, (struct mmsghdr *)8, N, MSG_DONTWAIT, NULL));
    fill_recv(N, 64, 0);
    show("recvmmsg(MSG_OOB)", recvmmsg(r, mm, N, MSG_OOB | MSG_DONTWAIT, NULL));

    /* control messages per message */
    int on = 1;
    if (fam == AF_INET)
        setsockopt(r, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    else
        setsockopt(r, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    fill_send(3, &ra, rl);
    show("sendmmsg(3)", sendmmsg(s, mm, 3, 0));
    settle(r);
    fill_recv(N, 64, 1);
    mm[2].msg_hdr.msg_controllen = 4;
    k = recvmmsg(r, mm, 3, MSG_DONTWAIT, NULL);
    show_recv("recvmmsg(3, pktinfo)", k, sport);
    for (int i = 0; i < k; i++) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr);
        char ip[INET6_ADDRSTRLEN] = "-";
        if (c && c->cmsg_type == IP_PKTINFO && c->cmsg_level == IPPROTO_IP)
            inet_ntop(AF_INET, &((struct in_pktinfo *)CMSG_DATA(c))->ipi_addr, ip, sizeof ip);
        else if (c && c->cmsg_type == IPV6_PKTINFO && c->cmsg_level == IPPROTO_IPV6)
            inet_ntop(AF_INET6, &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr, ip,
                      sizeof ip);
        printf("  message %d: controllen %zu, pktinfo %s\n", i,
               (size_t)mm[i].msg_hdr.msg_controllen, ip);
    }

    /* a connected socket: the refused port's error from recvmmsg */
    int c = socket(fam, SOCK_DGRAM, 0);
    struct sockaddr_storage gone;
    socklen_t gl;
    int g = udp_bound(fam, &gone, &gl);
    close(g);
    show("connect(closed port)", connect(c, (struct sockaddr *)&gone, gl));
    show("send", send(c, "x", 1, 0));
    struct pollfd p = {c, POLLIN, 0};
    poll(&p, 1, 2000);
    fill_recv(N, 64, 0);
    show("recvmmsg(refused)", recvmmsg(c, mm, 4, MSG_DONTWAIT, NULL));
    show("recvmmsg(after the error)", recvmmsg(c, mm, 4, MSG_DONTWAIT, NULL));
    close(c);
    close(r);
    close(s);
}

int main(void)
{
    run(AF_INET);
    run(AF_INET6);
    return 0;
}
