/* udp_send_cmsg: control data on UDP sendmsg (RFC 3542 and its IPv4 counterparts):
 * IPV6_HOPLIMIT / IPV6_TCLASS and IP_TTL / IP_TOS set that one datagram's hop limit /
 * traffic class (the receiver sees them with IPV6_RECVHOPLIMIT / IPV6_RECVTCLASS,
 * IP_RECVTTL / IP_RECVTOS); wrong lengths, values, levels and types are judged as
 * Linux judges them. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <unistd.h>

#include "conformance.h"

static int g_v6;

/* send "x" from tx to `to` with one control message (len: cmsg_len, 0 = CMSG_LEN(dlen)) */
static ssize_t send_cm(int tx, const void *to, socklen_t tl, int level, int type,
                       const void *data, size_t dlen, size_t len, size_t controllen)
{
    union {
        struct cmsghdr h;
        unsigned char b[128];
    } cm;
    memset(&cm, 0, sizeof cm);
    cm.h.cmsg_level = level;
    cm.h.cmsg_type = type;
    cm.h.cmsg_len = len ? len : CMSG_LEN(dlen);
    memcpy(CMSG_DATA(&cm.h), data, dlen);
    struct iovec iov = {(void *)"x", 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = (void *)to;
    m.msg_namelen = tl;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cm.b;
    m.msg_controllen = controllen ? controllen : CMSG_SPACE(dlen);
    return sendmsg(tx, &m, 0);
}

/* receive one datagram on rx and print its hop limit / TTL and class / TOS */
static void recv_show(const char *what, int rx)
{
    char buf[16];
    unsigned char cb[256];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cb;
    m.msg_controllen = sizeof cb;
    readable(rx);
    ssize_t r = recvmsg(rx, &m, MSG_DONTWAIT);
    show(what, r);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); r >= 0 && c; c = CMSG_NXTHDR(&m, c)) {
        int v = 0;
        if (c->cmsg_len == CMSG_LEN(1))
            v = *CMSG_DATA(c);
        else
            memcpy(&v, CMSG_DATA(c), sizeof v);
        printf("  cmsg level %d type %d value %d\n", c->cmsg_level, c->cmsg_type, v);
    }
}

static void run(int fam)
{
    g_v6 = fam == AF_INET6;
    printf("-- %s\n", g_v6 ? "IPv6" : "IPv4");
    int rx = socket(fam, SOCK_DGRAM, 0), tx = socket(fam, SOCK_DGRAM, 0), on = 1;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (g_v6) {
        struct sockaddr_in6 *a = (void *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
        setsockopt(rx, SOL_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
        setsockopt(rx, SOL_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
    } else {
        struct sockaddr_in *a = (void *)&ss;
        *a = v4("127.0.0.1", 0);
        sl = sizeof *a;
        setsockopt(rx, SOL_IP, IP_RECVTTL, &on, sizeof on);
        setsockopt(rx, SOL_IP, IP_RECVTOS, &on, sizeof on);
    }
    bind(rx, (struct sockaddr *)&ss, sl);
    getsockname(rx, (struct sockaddr *)&ss, &sl);
    int lv = g_v6 ? SOL_IPV6 : SOL_IP;
    int thl = g_v6 ? IPV6_HOPLIMIT : IP_TTL, tcl = g_v6 ? IPV6_TCLASS : IP_TOS;
    int v = 7;
    show("hop limit/TTL 7", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    v = 0x28;
    show("class/TOS 0x28", send_cm(tx, &ss, sl, lv, tcl, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    v = -1;
    show("hop limit/TTL -1", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    show("class/TOS -1", send_cm(tx, &ss, sl, lv, tcl, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    v = 256;
    show("hop limit/TTL 256", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, 0));
    show("class/TOS 256", send_cm(tx, &ss, sl, lv, tcl, &v, sizeof v, 0, 0));
    v = 0;
    show("hop limit/TTL 0", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    uint8_t b = 9;
    show("hop limit/TTL one byte", send_cm(tx, &ss, sl, lv, thl, &b, 1, 0, 0));
    show("class/TOS one byte", send_cm(tx, &ss, sl, lv, tcl, &b, 1, 0, 0));
    recv_show("  received", rx);
    v = 5;
    show("cmsg_len 5 bytes over", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v,
                                          CMSG_LEN(sizeof v) + 5, CMSG_SPACE(sizeof v) + 8));
    show("cmsg_len beyond controllen", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v,
                                               CMSG_LEN(sizeof v) + 64, 0));
    show("cmsg_len below the header", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 8, 0));
    show("controllen odd", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, CMSG_LEN(sizeof v) + 1));
    recv_show("  received", rx);
    show("controllen short of a header", send_cm(tx, &ss, sl, lv, thl, &v, sizeof v, 0, 12));
    recv_show("  received", rx);
    show("unknown type", send_cm(tx, &ss, sl, lv, 999, &v, sizeof v, 0, 0));
    show("other level", send_cm(tx, &ss, sl, IPPROTO_TCP, 1, &v, sizeof v, 0, 0));
    recv_show("  received", rx);
    show("SOL_SOCKET SCM_RIGHTS", send_cm(tx, &ss, sl, SOL_SOCKET, SCM_RIGHTS, &rx, sizeof rx, 0, 0));
    close(rx);
    close(tx);
}

int main(void)
{
    run(AF_INET6);
    run(AF_INET);
    return 0;
}
