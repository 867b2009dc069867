/* udp_fastpath: what a UDP send or receive gives where the stub takes its one-system-call
 * path: a bad buffer with datagrams queued (the datagram is dropped, the next one is
 * read), a bad address or length for recvfrom with one queued, addresses on the stack
 * (shorter and longer than the address), a bad destination for sendto (nothing sent),
 * and the fd number of a UDP socket closed where no close() is seen (fclose of its
 * fdopen'd stream) then reused for a file and for another socket. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conformance.h"

#define BAD ((void *)-1)

static void show_bytes(const char *what, ssize_t r, const char *buf)
{
    show(what, r);
    if (r > 0)
        printf("%-44s   bytes=%.*s\n", what, (int)r, buf);
}

static void send3(int tx, const struct sockaddr_in *to)
{
    sendto(tx, "one", 3, 0, (const struct sockaddr *)to, sizeof *to);
    sendto(tx, "two", 3, 0, (const struct sockaddr *)to, sizeof *to);
    sendto(tx, "three", 5, 0, (const struct sockaddr *)to, sizeof *to);
}

/* what is left queued, shown */
static void drain(int fd)
{
    char buf[64];
    ssize_t r;
    while ((r = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) >= 0)
        show_bytes("then", r, buf);
}

int main(void)
{
    struct sockaddr_in a;
    int rx = loopback_udp(&a);
    int tx = socket(AF_INET, SOCK_DGRAM, 0);
    char buf[64];

    /* (void *)-1 fails the kernel's range check before anything is taken; a page with no
     * access is only found by the copy itself */
    char *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    send3(tx, &a);
    readable(rx);
    show("recv buffer -1", recv(rx, BAD, sizeof buf, 0));
    show("recv buffer on a PROT_NONE page", recv(rx, none, sizeof buf, 0));
    show("read buffer on a PROT_NONE page", read(rx, none, sizeof buf));
    show_bytes("recv the next", recv(rx, buf, sizeof buf, MSG_DONTWAIT), buf);
    drain(rx);

    send3(tx, &a);
    readable(rx);
    socklen_t l = sizeof a;
    show("recvfrom address -1", recvfrom(rx, buf, sizeof buf, 0, BAD, &l));
    show("recvfrom length -1", recvfrom(rx, buf, sizeof buf, 0, (struct sockaddr *)&a, BAD));
    show_bytes("recv the next", recv(rx, buf, sizeof buf, MSG_DONTWAIT), buf);
    drain(rx);

    send3(tx, &a);
    readable(rx);
    struct sockaddr_in from;
    memset(&from, 0, sizeof from);
    l = 4; /* shorter than the address: truncated, the full length returned */
    show_bytes("recvfrom 4-byte address", recvfrom(rx, buf, sizeof buf, MSG_DONTWAIT,
                                                   (struct sockaddr *)&from, &l), buf);
    printf("%-44s   len=%u family=%d port=%d\n", "its address", (unsigned)l, from.sin_family,
           from.sin_port != 0);
    struct sockaddr_storage big;
    memset(&big, 0x55, sizeof big);
    l = sizeof big;
    show_bytes("recvfrom storage-sized", recvfrom(rx, buf, sizeof buf, 0,
                                                  (struct sockaddr *)&big, &l), buf);
    printf("%-44s   len=%u byte16=%#x\n", "its address", (unsigned)l,
           ((unsigned char *)&big)[16]);
    l = (socklen_t)-1;
    show("recvfrom negative length", recvfrom(rx, buf, sizeof buf, 0,
                                              (struct sockaddr *)&big, &l));
    show("recv: nothing more", recv(rx, buf, sizeof buf, MSG_DONTWAIT));

    show("sendto destination -1", sendto(tx, "x", 1, 0, BAD, sizeof a));
    show("sendto destination on a PROT_NONE page", sendto(tx, "x", 1, 0,
                                                          (struct sockaddr *)none, sizeof a));
    show("sendto buffer -1", sendto(tx, BAD, 10, 0, (struct sockaddr *)&a, sizeof a));
    show("sendto buffer on a PROT_NONE page", sendto(tx, none, 10, 0, (struct sockaddr *)&a,
                                                     sizeof a));
    struct sockaddr_in on_stack = a;
    show("sendto from the stack", sendto(tx, "four", 4, 0, (struct sockaddr *)&on_stack,
                                         sizeof on_stack));
    readable(rx);
    show_bytes("recv: only that one", recv(rx, buf, sizeof buf, MSG_DONTWAIT), buf);
    show("recv: nothing more", recv(rx, buf, sizeof buf, MSG_DONTWAIT));

    /* a number closed by the C library, unseen: reused for a file */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("connect u", connect(u, (struct sockaddr *)&a, sizeof a));
    show("write u", write(u, "five", 4));
    readable(rx);
    show_bytes("recv it", recv(rx, buf, sizeof buf, MSG_DONTWAIT), buf);
    FILE *f = fdopen(u, "r");
    show("fclose its stream", f ? fclose(f) : -1);
    char path[] = "/tmp/udp_fastpath.XXXXXX";
    int t = mkstemp(path);
    unlink(path);
    show("the file took its number", t == u);
    show("write the file", write(t, "file bytes", 10));
    show("lseek", lseek(t, 0, SEEK_SET));
    show_bytes("read the file", read(t, buf, sizeof buf), buf);
    show("send on the file", send(t, "x", 1, 0));
    show("recv on the file", recv(t, buf, sizeof buf, MSG_DONTWAIT));
    close(t);

    /* ... and for another UDP socket */
    u = socket(AF_INET, SOCK_DGRAM, 0);
    show("connect u again", connect(u, (struct sockaddr *)&a, sizeof a));
    f = fdopen(u, "r");
    show("fclose its stream", f ? fclose(f) : -1);
    int v = socket(AF_INET, SOCK_DGRAM, 0);
    show("the new socket took its number", v == u);
    show("write on it (not connected)", write(v, "x", 1));
    show("sendto on it", sendto(v, "six", 3, 0, (struct sockaddr *)&a, sizeof a));
    readable(rx);
    show_bytes("recv it", recv(rx, buf, sizeof buf, MSG_DONTWAIT), buf);
    close(v);
    close(rx);
    close(tx);
    return 0;
}
