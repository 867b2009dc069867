/* sockopt_values: the validation side of every option number of SOL_SOCKET, IPPROTO_IP,
 * IPPROTO_IPV6, IPPROTO_TCP and IPPROTO_UDP on fresh TCP and UDP sockets of both
 * families: getsockopt with short and long buffers, setsockopt with a range of int
 * values (what is refused, what is clamped, what reads back) and with short, odd and
 * struct-sized lengths (a buffer starting with byte 1).
 *
 * Left out, besides what differs per run or process (as in sockopt_sweep.c):
 * - answers that follow the machine's configuration: SO_SNDBUF/SO_RCVBUF[FORCE]
 *   (net.core.[rw]mem_max), TCP_CONGESTION and TCP_CC_INFO (the default algorithm),
 *   TCP_RTO_MIN_US's read-back (rounded to CONFIG_HZ ticks), interface indexes given
 *   to IPV6_MULTICAST_IF, and IP_ADD/DROP_MEMBERSHIP with a bare group (the route
 *   table picks the device);
 * - TCP_ZEROCOPY_RECEIVE's get, whose answer depends on the request the caller puts
 *   in the buffer (the shim does not pass getsockopt's input buffer on). */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

struct level { int level; const char *name; int max; };

static const struct level LEVELS[] = {
    {SOL_SOCKET, "SOL_SOCKET", 85}, {IPPROTO_IP, "IP", 70}, {IPPROTO_IPV6, "IPV6", 80},
    {IPPROTO_TCP, "TCP", 45},       {IPPROTO_UDP, "UDP", 110},
};

static int skipped(int level, int opt)
{
    if (level == SOL_SOCKET)
        return opt == SO_PEERCRED || opt == SO_COOKIE || opt == SO_INCOMING_NAPI_ID ||
               opt == SO_MEMINFO || opt == SO_INCOMING_CPU || opt == SO_PEERSEC ||
               opt == SO_PEERGROUPS || opt == SO_NETNS_COOKIE || opt == 77 /* PEERPIDFD */ ||
               opt == SO_SNDBUF || opt == SO_RCVBUF || opt == SO_SNDBUFFORCE ||
               opt == SO_RCVBUFFORCE;
    if (level == IPPROTO_TCP)
        return opt == TCP_INFO || opt == TCP_CC_INFO || opt == TCP_TIMESTAMP ||
               opt == TCP_CONGESTION;
    return 0;
}

static void get(const char *tag, int fd, int level, int opt, socklen_t len, int show)
{
    unsigned char buf[64];
    memset(buf, 0, sizeof buf);
    int r = getsockopt(fd, level, opt, buf, &len);
    if (r < 0) {
        printf("%s = -1 %s\n", tag, strerrorname_np(errno));
        return;
    }
    printf("%s = %d len=%u", tag, r, (unsigned)len);
    if (show) {
        printf(" val=");
        for (socklen_t i = 0; i < len && i < sizeof buf; i++)
            printf("%02x", buf[i]);
    }
    printf("\n");
}

static void set(const char *tag, int family, int type, int level, int opt, const void *v,
                socklen_t len, int show)
{
    int fd = socket(family, type, 0);
    int r = setsockopt(fd, level, opt, v, len);
    if (r < 0)
        printf("%s = -1 %s\n", tag, strerrorname_np(errno));
    else
        get(tag, fd, level, opt, 64, show);
    close(fd);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    static const int fams[] = {AF_INET, AF_INET6};
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    static const int vals[] = {0, -1, 2, 3, 5, 255, 256, 1000, 70000, 0x01000000};
    static const socklen_t lens[] = {1, 2, 8, 16, 20};
    for (int f = 0; f < 2; f++)
        for (int t = 0; t < 2; t++)
            for (size_t l = 0; l < sizeof LEVELS / sizeof LEVELS[0]; l++)
                for (int opt = 0; opt <= LEVELS[l].max; opt++) {
                    int lv = LEVELS[l].level;
                    if (skipped(lv, opt))
                        continue;
                    int show = !(lv == IPPROTO_TCP && opt == 45 /* TCP_RTO_MIN_US */);
                    char tag[96], what[140];
                    snprintf(tag, sizeof tag, "%s %s %s %d", f ? "v6" : "v4",
                             t ? "udp" : "tcp", LEVELS[l].name, opt);
                    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
                        if (lv == IPPROTO_TCP && opt == 35 /* TCP_ZEROCOPY_RECEIVE */)
                            break;
                        int fd = socket(fams[f], types[t], 0);
                        snprintf(what, sizeof what, "%s getlen %u", tag, (unsigned)lens[k]);
                        get(what, fd, lv, opt, lens[k], 1);
                        close(fd);
                    }
                    for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
                        if (lv == IPPROTO_IPV6 && opt == IPV6_MULTICAST_IF)
                            break;
                        snprintf(what, sizeof what, "%s set %d", tag, vals[v]);
                        set(what, fams[f], types[t], lv, opt, &vals[v], sizeof vals[v], show);
                    }
                    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
                        if (lv == IPPROTO_IP && (opt == IP_ADD_MEMBERSHIP ||
                                                 opt == IP_DROP_MEMBERSHIP))
                            break;
                        unsigned char b[20] = {1};
                        snprintf(what, sizeof what, "%s setlen %u", tag, (unsigned)lens[k]);
                        set(what, fams[f], types[t], lv, opt, b, lens[k], show);
                    }
                }
    return 0;
}
