/* bind_no_port: IP_BIND_ADDRESS_NO_PORT: bind to an address with port 0 leaves the port
 * unchosen (getsockname: port 0) until connect (TCP) or connect/send (UDP) picks one. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <unistd.h>

#include "conformance.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static void show_port(const char *what, int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof a;
    memset(&a, 0, sizeof a);
    int r = getsockname(fd, (struct sockaddr *)&a, &l);
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    printf("%-44s = %d addr=%s port=%s\n", what, r, ip, a.sin_port ? "set" : "0");
}

static void one(int type, const char *name)
{
    printf("-- %s\n", name);
    struct sockaddr_in la;
    int l = type == SOCK_STREAM ? loopback_listener(&la, 4) : socket(AF_INET, type, 0);
    if (type == SOCK_DGRAM) {
        la = v4("127.0.0.1", 0);
        bind(l, (struct sockaddr *)&la, sizeof la);
        socklen_t ll = sizeof la;
        getsockname(l, (struct sockaddr *)&la, &ll);
    }
    int s = socket(AF_INET, type, 0);
    int one = 1, v = -1;
    socklen_t vl = sizeof v;
    show("setsockopt IP_BIND_ADDRESS_NO_PORT",
         setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one));
    show("getsockopt IP_BIND_ADDRESS_NO_PORT",
         getsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &v, &vl));
    printf("  value %d\n", v);
    struct sockaddr_in b = v4("127.0.0.1", 0);
    show("bind 127.0.0.1:0", bind(s, (struct sockaddr *)&b, sizeof b));
    show_port("getsockname after bind", s);
    show("bind again", bind(s, (struct sockaddr *)&b, sizeof b));
    show("connect", connect(s, (struct sockaddr *)&la, sizeof la));
    show_port("getsockname after connect", s);
    close(s);

    /* an explicit port is taken at bind as always: the listener's is in use */
    s = socket(AF_INET, type, 0);
    setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    show("bind to a port in use", bind(s, (struct sockaddr *)&la, sizeof la));
    close(s);

    if (type == SOCK_DGRAM) {
        s = socket(AF_INET, type, 0);
        setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        show("udp bind 127.0.0.1:0", bind(s, (struct sockaddr *)&b, sizeof b));
        show("udp sendto", sendto(s, "x", 1, 0, (struct sockaddr *)&la, sizeof la));
        show_port("getsockname after sendto", s);
        close(s);
    }
    close(l);
}

int main(void)
{
    one(SOCK_STREAM, "tcp");
    one(SOCK_DGRAM, "udp");
    return 0;
}
