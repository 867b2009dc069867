/* unix_oob: MSG_OOB on AF_UNIX sockets (Linux 5.15+), whose details changed in later
 * kernels: the out-of-band byte, SIOCATMARK, POLLPRI, SO_OOBINLINE, and what a read
 * meets after a byte was taken out of band (6.1 stalls a non-blocking read once and
 * says it is no longer at the mark; 6.12 reads on).  On a socketpair and on a
 * connection made by connect/accept, and MSG_OOB where AF_UNIX refuses it (a
 * listener, which has no peer, other types). */
#define _GNU_SOURCE
#include "conformance.h"
#include "urgent.h"
#include "unix_names.h"

#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void pri(const char *what, int fd)
{
    struct pollfd p = {fd, POLLIN | POLLPRI, 0};
    show(what, poll(&p, 1, 0));
    printf("  revents %s%s\n", p.revents & POLLIN ? "IN " : "", p.revents & POLLPRI ? "PRI" : "");
}

static void cases(int c, int s)
{
    /* read up to the mark, then the urgent byte, then more data comes */
    show("send \"abx\"", send(c, "abx", 3, 0));
    show("send \"c\" MSG_OOB", send(c, "c", 1, MSG_OOB));
    pri("poll", s);
    atmark("SIOCATMARK before the mark", s);
    rd("recv up to the mark", s, 0);
    atmark("SIOCATMARK at the mark", s);
    rd("recv MSG_OOB", s, MSG_OOB);
    atmark("SIOCATMARK after MSG_OOB", s);
    rd("recv MSG_OOB again", s, MSG_OOB);
    show("send \"tail\"", send(c, "tail", 4, 0));
    rd("recv MSG_PEEK after the mark", s, MSG_PEEK);
    rd("recv after the mark", s, 0);
    rd("recv again", s, 0);

    /* the urgent byte taken before the data in front of it */
    show("send \"de\" \"f\" MSG_OOB \"gh\"", send(c, "def", 3, MSG_OOB) + send(c, "gh", 2, 0));
    rd("recv MSG_OOB first", s, MSG_OOB);
    atmark("SIOCATMARK", s);
    rd("recv", s, 0);
    atmark("SIOCATMARK", s);
    rd("recv", s, 0);

    /* two urgent bytes in a row */
    show("send \"i\" MSG_OOB", send(c, "i", 1, MSG_OOB));
    rd("recv MSG_OOB", s, MSG_OOB);
    show("send \"j\" MSG_OOB", send(c, "j", 1, MSG_OOB));
    pri("poll", s);
    atmark("SIOCATMARK", s);
    rd("recv MSG_OOB", s, MSG_OOB);
    atmark("SIOCATMARK", s);
    rd("recv", s, 0);

    /* SO_OOBINLINE: the urgent byte stays in the stream */
    int one = 1;
    show("setsockopt SO_OOBINLINE", setsockopt(s, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one));
    show("send \"kl\" MSG_OOB", send(c, "kl", 2, MSG_OOB));
    atmark("SIOCATMARK inline", s);
    rd("recv MSG_OOB inline", s, MSG_OOB);
    rd("recv inline", s, 0);
    atmark("SIOCATMARK inline", s);
    rd("recv inline", s, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(tag, sizeof tag, "unix-oob-%d", (int)getpid());
    int sv[2];
    printf("-- socketpair\n");
    show("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    cases(sv[0], sv[1]);
    close(sv[0]);
    close(sv[1]);

    printf("-- connect/accept\n");
    struct sockaddr_un a;
    socklen_t al = abstract(&a, "oob");
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    show("bind", bind(l, (struct sockaddr *)&a, al));
    show("listen", listen(l, 1));
    rd("recv MSG_OOB on a listener", l, MSG_OOB);
    show("send MSG_OOB on a listener", send(l, "x", 1, MSG_OOB | MSG_NOSIGNAL));
    show("send on a listener", send(l, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
    show("send MSG_OOB of 0 bytes on a listener", send(l, "", 0, MSG_OOB | MSG_NOSIGNAL));
    show("sendto a name on a listener",
         sendto(l, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, al));
    atmark("SIOCATMARK on a listener", l);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("send MSG_OOB unconnected", send(c, "x", 1, MSG_OOB | MSG_NOSIGNAL));
    rd("recv MSG_OOB unconnected", c, MSG_OOB);
    show("connect", connect(c, (struct sockaddr *)&a, al));
    int s = accept(l, NULL, NULL);
    show("accept >= 0", s < 0 ? s : 0);
    rd("recv MSG_OOB with none", s, MSG_OOB);
    show("send MSG_OOB of 0 bytes", send(c, "", 0, MSG_OOB));
    cases(c, s);
    close(c);
    close(s);
    close(l);

    printf("-- other types\n");
    show("socketpair SEQPACKET", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
    show("send MSG_OOB", send(sv[0], "x", 1, MSG_OOB));
    rd("recv MSG_OOB", sv[1], MSG_OOB);
    close(sv[0]);
    close(sv[1]);
    show("socketpair DGRAM", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    show("send MSG_OOB", send(sv[0], "x", 1, MSG_OOB));
    rd("recv MSG_OOB", sv[1], MSG_OOB);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
