/* sockopt_sweep: every option number of SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6,
 * IPPROTO_TCP and IPPROTO_UDP on fresh TCP and UDP sockets of both families: what
 * getsockopt returns (value, length), and what setsockopt(int 1) does to it.  Options
 * whose value differs per run or per process (cookies, peer credentials, CPU, napi id,
 * TCP_INFO, the TCP timestamp clock) show their return and length only; those that
 * follow the machine's net.ipv4.tcp_congestion_control (its name, TCP_CC_INFO's size)
 * show their return only. */
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

/* values that vary from run to run, or between processes */
static int varies(int level, int opt)
{
    if (level == SOL_SOCKET)
        return opt == SO_PEERCRED || opt == SO_COOKIE || opt == SO_INCOMING_NAPI_ID ||
               opt == SO_MEMINFO || opt == SO_INCOMING_CPU || opt == SO_PEERSEC ||
               opt == SO_PEERGROUPS || opt == SO_NETNS_COOKIE || opt == 77 /* PEERPIDFD */;
    if (level == IPPROTO_TCP)
        return opt == TCP_INFO || opt == TCP_TIMESTAMP;
    return 0;
}

/* answers that depend on the machine's default congestion control */
static int machine(int level, int opt)
{
    return level == IPPROTO_TCP && (opt == TCP_CONGESTION || opt == TCP_CC_INFO);
}

static void get(const char *tag, int fd, int level, int opt)
{
    unsigned char buf[64];
    memset(buf, 0xAA, sizeof buf);
    socklen_t len = sizeof buf;
    int r = getsockopt(fd, level, opt, buf, &len);
    if (r < 0) {
        printf("%s = -1 %s\n", tag, strerrorname_np(errno));
        return;
    }
    if (machine(level, opt)) {
        printf("%s = %d\n", tag, r);
        return;
    }
    printf("%s = %d len=%u", tag, r, (unsigned)len);
    if (!varies(level, opt)) {
        printf(" val=");
        for (socklen_t i = 0; i < len && i < sizeof buf; i++)
            printf("%02x", buf[i]);
    }
    printf("\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    static const int fams[] = {AF_INET, AF_INET6};
    static const int types[] = {SOCK_STREAM, SOCK_DGRAM};
    for (int f = 0; f < 2; f++)
        for (int t = 0; t < 2; t++)
            for (size_t l = 0; l < sizeof LEVELS / sizeof LEVELS[0]; l++)
                for (int opt = 0; opt <= LEVELS[l].max; opt++) {
                    char tag[96];
                    int lv = LEVELS[l].level;
                    snprintf(tag, sizeof tag, "%s %s %s %d", f ? "v6" : "v4",
                             t ? "udp" : "tcp", LEVELS[l].name, opt);
                    int fd = socket(fams[f], types[t], 0);
                    char what[120];
                    snprintf(what, sizeof what, "%s get", tag);
                    get(what, fd, lv, opt);
                    close(fd);
                    fd = socket(fams[f], types[t], 0);
                    int one = 1;
                    int r = setsockopt(fd, lv, opt, &one, sizeof one);
                    snprintf(what, sizeof what, "%s set 1", tag);
                    if (r < 0)
                        printf("%s = -1 %s\n", what, strerrorname_np(errno));
                    else {
                        printf("%s = %d\n", what, r);
                        snprintf(what, sizeof what, "%s get after set", tag);
                        get(what, fd, lv, opt);
                    }
                    close(fd);
                }
    return 0;
}
