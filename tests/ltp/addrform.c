/* addrform: IPV6_ADDRFORM turns a connected AF_INET6 TCP socket with a v4-mapped peer
 * into AF_INET; connect(AF_UNSPEC) disconnects and the socket is reusable (bind,
 * listen, accept), as LTP's connect02 does.  Prints return values and errno names. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

static void show_family(const char *what, int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int r = getsockname(fd, (struct sockaddr *)&ss, &l);
    printf("%-48s = %d family %d len %u\n", what, r, ss.ss_family, (unsigned)l);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int v = AF_INET;
    int l6 = socket(AF_INET6, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in6 b6;
    memset(&b6, 0, sizeof b6);
    b6.sin6_family = AF_INET6;
    b6.sin6_addr = in6addr_any;
    show("bind [::]:0", bind(l6, (struct sockaddr *)&b6, sizeof b6));
    socklen_t bl = sizeof b6;
    getsockname(l6, (struct sockaddr *)&b6, &bl);
    show("listen", listen(l6, 5));
    show("IPV6_ADDRFORM on listener", setsockopt(l6, SOL_IPV6, IPV6_ADDRFORM, &v, sizeof v));

    int fresh = socket(AF_INET6, SOCK_STREAM, 0);
    show("IPV6_ADDRFORM unconnected", setsockopt(fresh, SOL_IPV6, IPV6_ADDRFORM, &v, sizeof v));
    struct sockaddr unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sa_family = AF_UNSPEC;
    show("connect(AF_UNSPEC) unconnected", connect(fresh, &unspec, sizeof unspec));
    close(fresh);

    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = b6.sin6_port;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int round = 0; round < 3; round++) {
        int c1 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        show("connect 127.0.0.1", connect(c1, (struct sockaddr *)&to, sizeof to));
        int fd = accept(l6, NULL, NULL);
        show("accept >= 0", fd < 0 ? -1 : 0);
        show_family("getsockname before", fd);
        int bad = AF_INET6;
        show("IPV6_ADDRFORM AF_INET6", setsockopt(fd, SOL_IPV6, IPV6_ADDRFORM, &bad, sizeof bad));
        show("IPV6_ADDRFORM short", setsockopt(fd, SOL_IPV6, IPV6_ADDRFORM, &v, 2));
        show("IPV6_ADDRFORM AF_INET", setsockopt(fd, SOL_IPV6, IPV6_ADDRFORM, &v, sizeof v));
        show_family("getsockname after", fd);
        show("IPV6_ADDRFORM again", setsockopt(fd, SOL_IPV6, IPV6_ADDRFORM, &v, sizeof v));
        int d = -1;
        socklen_t dl = sizeof d;
        show("getsockopt(SO_DOMAIN)", getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &d, &dl));
        printf("SO_DOMAIN = %d\n", d);
        show("connect(AF_UNSPEC)", connect(fd, &unspec, sizeof unspec));
        struct sockaddr_in b4;
        memset(&b4, 0, sizeof b4);
        b4.sin_family = AF_INET;
        show("bind 0.0.0.0:0", bind(fd, (struct sockaddr *)&b4, sizeof b4));
        show("listen", listen(fd, 5));
        socklen_t l4 = sizeof b4;
        getsockname(fd, (struct sockaddr *)&b4, &l4);
        b4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int c2 = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        show("connect to the re-listened socket", connect(c2, (struct sockaddr *)&b4, sizeof b4));
        int c3 = accept(fd, NULL, NULL);
        show("accept >= 0", c3 < 0 ? -1 : 0);
        close(c3);
        close(c2);
        close(c1);
        close(fd);
    }
    close(l6);
    return 0;
}
