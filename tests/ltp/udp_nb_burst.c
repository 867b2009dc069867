/* udp_nb_burst: a non-blocking UDP sender on loopback sends 20000 datagrams as fast as
 * it can.  Linux never answers EAGAIN there (the datagram is delivered or dropped at
 * the receiver); a receiver reading them all as they come gets every one. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "conformance.h"

/* 20000 sendto calls of msg to a with flags: "sent N, EAGAIN N, other N" */
static void burst(const char *what, int tx, const char *msg, size_t len, int flags,
                  const struct sockaddr_in *a)
{
    int again = 0, other = 0, ok = 0;
    for (int i = 0; i < 20000; i++) {
        ssize_t r = sendto(tx, msg, len, flags, (const struct sockaddr *)a, sizeof *a);
        if (r == (ssize_t)len)
            ok++;
        else if (r < 0 && errno == EAGAIN)
            again++;
        else
            other++;
    }
    printf("%ssent %d, EAGAIN %d, other %d\n", what, ok, again, other);
}

int main(void)
{
    struct sockaddr_in a = v4("127.0.0.1", 0);
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    bind(rx, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(rx, (struct sockaddr *)&a, &al);
    int tx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    char msg[64];
    memset(msg, 'm', sizeof msg);
    burst("", tx, msg, sizeof msg, 0, &a);
    /* the same with MSG_DONTWAIT on a blocking socket */
    int tx2 = socket(AF_INET, SOCK_DGRAM, 0);
    burst("MSG_DONTWAIT: ", tx2, msg, sizeof msg, MSG_DONTWAIT, &a);
    /* sendmmsg, 100 datagrams a call */
    struct mmsghdr mm[100];
    struct iovec iov = {msg, sizeof msg};
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 100; i++) {
        mm[i].msg_hdr.msg_name = &a;
        mm[i].msg_hdr.msg_namelen = sizeof a;
        mm[i].msg_hdr.msg_iov = &iov;
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    int again = 0, other = 0, ok = 0;
    for (int i = 0; i < 200; i++) {
        int r = sendmmsg(tx, mm, 100, 0);
        if (r > 0)
            ok += r;
        else if (r < 0 && errno == EAGAIN)
            again++;
        else
            other++;
    }
    printf("sendmmsg: sent %d, EAGAIN %d, other %d\n", ok, again, other);
    return 0;
}
