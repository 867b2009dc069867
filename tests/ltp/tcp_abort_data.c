/* tcp_abort_data: bytes sent just before close() with SO_LINGER {1, 0}.  On Linux
 * loopback send() has delivered them: the peer reads them all, then ECONNRESET. */
#define _GNU_SOURCE
#include <unistd.h>

#include "conformance.h"

static void one(const char *what, size_t n)
{
    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);
    static char data[65536];
    memset(data, 'x', sizeof data);
    struct linger lg = {1, 0};
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    size_t sent = 0;
    while (sent < n) {
        ssize_t k = send(c, data, n - sent < sizeof data ? n - sent : sizeof data, 0);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    printf("%s: sent %zu\n", what, sent);
    close(c);
    size_t got = 0;
    char buf[65536];
    for (;;) {
        readable(s);
        ssize_t k = recv(s, buf, sizeof buf, 0);
        if (k <= 0) {
            printf("%s: received %zu, then ", what, got);
            show("recv", k);
            break;
        }
        got += (size_t)k;
    }
    close(s);
    close(l);
}

int main(void)
{
    one("5 bytes", 5);
    one("64 KiB", 65536);
    return 0;
}
