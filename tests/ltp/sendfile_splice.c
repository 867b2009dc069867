/* sendfile_splice: sendfile from a file into a shim TCP socket, splice from a pipe into
 * the socket and from the socket into a pipe; the bytes arrive intact (a checksum is
 * printed), offsets and return values as Linux.  Prints return values, errno names,
 * byte counts and checksums only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conformance.h"

#define SIZE 300000

static unsigned long sum(const unsigned char *b, long n)
{
    unsigned long h = 5381;
    for (long i = 0; i < n; i++)
        h = h * 33 + b[i];
    return h;
}

/* read n bytes from fd with bounded waits */
static long read_n(int fd, unsigned char *buf, long n)
{
    long got = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (got < n && poll(&p, 1, 5000) > 0) {
        long r = read(fd, buf + got, (size_t)(n - got));
        if (r <= 0)
            break;
        got += r;
    }
    return got;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    static unsigned char data[SIZE], back[SIZE];
    for (long i = 0; i < SIZE; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    char path[] = "/tmp/rocketnet-sendfile-XXXXXX";
    int f = mkstemp(path);
    unlink(path);
    write(f, data, SIZE);

    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    int s = accept(l, NULL, NULL);

    /* sendfile with an offset: the file position stays */
    off_t off = 1000;
    long total = 0, r;
    while (total < SIZE - 1000 && (r = sendfile(c, f, &off, (size_t)(SIZE - 1000 - total))) > 0)
        total += r;
    printf("sendfile with offset: %ld bytes, offset now %ld, file position %ld\n", total,
           (long)off, (long)lseek(f, 0, SEEK_CUR));
    long got = read_n(s, back, SIZE - 1000);
    printf("peer got %ld bytes, same as the file: %d\n", got,
           got == SIZE - 1000 && sum(back, got) == sum(data + 1000, SIZE - 1000));
    /* sendfile without an offset: from the file position, which advances */
    lseek(f, 0, SEEK_SET);
    total = 0;
    while (total < SIZE && (r = sendfile(c, f, NULL, SIZE)) > 0)
        total += r;
    printf("sendfile from the position: %ld bytes, position now %ld\n", total,
           (long)lseek(f, 0, SEEK_CUR));
    got = read_n(s, back, SIZE);
    printf("peer got %ld bytes, same: %d\n", got, got == SIZE && sum(back, got) == sum(data, SIZE));
    show("sendfile at the end of the file", sendfile(c, f, NULL, 100));
    show("sendfile from a socket (EINVAL)", sendfile(c, s, NULL, 100));
    off = -1;
    show("sendfile negative offset", sendfile(c, f, &off, 100));

    /* splice pipe -> socket */
    int p[2];
    pipe(p);
    write(p[1], data, 50000);
    total = 0;
    while (total < 50000 && (r = splice(p[0], NULL, c, NULL, 50000, SPLICE_F_MOVE)) > 0)
        total += r;
    printf("splice pipe -> socket: %ld\n", total);
    got = read_n(s, back, 50000);
    printf("peer got %ld, same: %d\n", got, got == 50000 && sum(back, got) == sum(data, 50000));

    /* splice socket -> pipe */
    send(s, data, 40000, 0);
    total = 0;
    struct pollfd pp = {c, POLLIN, 0};
    while (total < 40000 && poll(&pp, 1, 5000) > 0 &&
           (r = splice(c, NULL, p[1], NULL, (size_t)(40000 - total), SPLICE_F_NONBLOCK)) > 0)
        total += r;
    printf("splice socket -> pipe: %ld\n", total);
    got = read_n(p[0], back, 40000);
    printf("pipe holds %ld, same: %d\n", got, got == 40000 && sum(back, got) == sum(data, 40000));
    int fl = fcntl(c, F_GETFL);
    fcntl(c, F_SETFL, fl | O_NONBLOCK);  /* SPLICE_F_NONBLOCK is the pipe's only */
    show("splice from an empty O_NONBLOCK socket", splice(c, NULL, p[1], NULL, 100, 0));
    fcntl(c, F_SETFL, fl);
    loff_t loff = 0;
    show("splice with an offset on the socket",
         splice(c, &loff, p[1], NULL, 100, SPLICE_F_NONBLOCK));
    show("splice socket -> socket (EINVAL)", splice(c, NULL, s, NULL, 100, SPLICE_F_NONBLOCK));
    close(s);
    pp.fd = c;
    poll(&pp, 1, 5000);
    show("splice after the peer closed", splice(c, NULL, p[1], NULL, 100, 0));
    close(p[0]);
    close(p[1]);
    close(c);
    close(l);
    close(f);
    return 0;
}
