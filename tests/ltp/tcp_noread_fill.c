/* tcp_noread_fill: a connection whose reader never reads.  Linux lets the writer queue
 * about its send buffer (autotuned up to tcp_wmem's max) plus the reader's receive
 * buffer, then send blocks: a non-blocking writer gets EAGAIN that persists, a blocking
 * one with SO_SNDTIMEO times out.  The shim's socket pairs must not add megabytes of
 * their own.  Prints whether the total lies between half of tcp_wmem's max and
 * tcp_wmem's max + tcp_rmem's default (the exact figure depends on the congestion
 * control and kernel accounting), then that the reader gets every byte. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "conformance.h"

static long sysctl3(const char *path, int i)
{
    long v[3] = {0, 0, 0};
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &v[0], &v[1], &v[2]) != 3)
            v[i] = 0;
        fclose(f);
    }
    return v[i];
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    long wmax = sysctl3("/proc/sys/net/ipv4/tcp_wmem", 2);
    long rdef = sysctl3("/proc/sys/net/ipv4/tcp_rmem", 1);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 1);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("connect", connect(c, (struct sockaddr *)&a, sizeof a));
    int s = accept(l, NULL, NULL);
    show("accept", s >= 0 ? 0 : -1);

    long total = fill_until_eagain(c, 65536, 500);
    show("non-blocking fill ends in EAGAIN", total > 0 ? 0 : -1);
    printf("queued between tcp_wmem[2]/2 and tcp_wmem[2]+tcp_rmem[1] = %d\n",
           total >= wmax / 2 && total <= wmax + rdef);
    if (total < wmax / 2 || total > wmax + rdef)
        fprintf(stderr, "queued %ld (tcp_wmem[2] %ld, tcp_rmem[1] %ld)\n", total, wmax, rdef);

    /* a blocking send on the full connection waits SO_SNDTIMEO: a part or EAGAIN */
    struct timeval tv = {0, 300000};
    show("SO_SNDTIMEO", setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    static char big[1 << 20];
    ssize_t r = send(c, big, sizeof big, 0);
    printf("blocking send times out (a part or EAGAIN) = %d\n",
           (r >= 0 && r < (ssize_t)sizeof big) || (r < 0 && errno == EAGAIN));
    if (r > 0)
        total += r;

    /* the reader gets every byte, then the end */
    shutdown(c, SHUT_WR);
    static char in[65536];
    long got = 0;
    for (;;) {
        ssize_t n = recv(s, in, sizeof in, 0);
        if (n <= 0)
            break;
        got += n;
    }
    printf("reader got all = %d\n", got == total);
    close(c);
    close(s);
    close(l);
    return 0;
}
