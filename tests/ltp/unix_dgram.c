/* unix_dgram: AF_UNIX SOCK_DGRAM: sendto abstract and filesystem names, the sender's
 * name on receive (with its length), boundaries, MSG_TRUNC/MSG_PEEK, connect and
 * disconnect, EPERM from a socket connected elsewhere, ECONNREFUSED/ENOENT/EPROTOTYPE,
 * SCM_RIGHTS with sendto, a full receiver (EAGAIN), socketpair. */
#define _GNU_SOURCE
#include "conformance.h"
#include "unix_names.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

/* recvfrom: the length, the sender's address length and whether it is `want` */
static void from(const char *what, int fd, const struct sockaddr_un *want, socklen_t wl)
{
    char buf[64], w[80];
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    memset(&a, 0x55, sizeof a);
    readable(fd);
    show(what, recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&a, &l));
    snprintf(w, sizeof w, "  %s addrlen", what);
    show(w, l);
    snprintf(w, sizeof w, "  %s same", what);
    show(w, want != NULL && l == wl && memcmp(&a, want, l) == 0);
}

int main(void)
{
    snprintf(tag, sizeof tag, "rn-dg-%d", (int)getpid());
    char dir[] = "/tmp/rn-dgXXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) < 0)
        return 1;
    char buf[64];
    struct sockaddr_un aa, ba, pa, xa;
    socklen_t al = abstract(&aa, "a"), bl = abstract(&ba, "b"), pl = path(&pa, "dsock"), xl;

    int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("socket", a >= 0 && b >= 0);
    show("send unconnected", send(a, "x", 1, MSG_DONTWAIT));
    show("listen", listen(a, 5));
    show("accept", accept(a, NULL, NULL));
    show("bind a", bind(a, (struct sockaddr *)&aa, al));
    show("bind b", bind(b, (struct sockaddr *)&ba, bl));
    int dup_name = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("bind b again", bind(dup_name, (struct sockaddr *)&ba, bl));
    int st = socket(AF_UNIX, SOCK_STREAM, 0);
    show("stream binds same abstract name", bind(st, (struct sockaddr *)&ba, bl));
    close(st);
    close(dup_name);

    show("sendto b ab", sendto(a, "ab", 2, 0, (struct sockaddr *)&ba, bl));
    show("sendto b cde", sendto(a, "cde", 3, 0, (struct sockaddr *)&ba, bl));
    readable(b);
    show("recv peek", recv(b, buf, sizeof buf, MSG_PEEK));
    show("recv 1 MSG_TRUNC", recv(b, buf, 1, MSG_TRUNC));
    from("recvfrom", b, &aa, al);
    int u = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("sendto from unbound", sendto(u, "u", 1, 0, (struct sockaddr *)&ba, bl));
    from("recvfrom unbound", b, NULL, 0);

    int pc = socket(AF_UNIX, SOCK_DGRAM, 0), on = 1;
    show("SO_PASSCRED unbound sender", setsockopt(pc, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    show("sendto with SO_PASSCRED", sendto(pc, "s", 1, 0, (struct sockaddr *)&ba, bl));
    struct sockaddr_un pn;
    socklen_t pnl = sizeof pn;
    show("  sender autobound", getsockname(pc, (struct sockaddr *)&pn, &pnl));
    show("    len", pnl);
    from("recvfrom autobound", b, &pn, pnl);
    close(pc);

    xl = abstract(&xa, "nobody");
    show("sendto nobody", sendto(u, "x", 1, 0, (struct sockaddr *)&xa, xl));
    xl = path(&xa, "nodir/x");
    show("sendto ENOENT", sendto(u, "x", 1, 0, (struct sockaddr *)&xa, xl));
    show("sendto short", sendto(u, "x", 1, 0, (struct sockaddr *)&xa, 1));
    int sp = socket(AF_UNIX, SOCK_STREAM, 0);
    xl = path(&xa, "streamsock");
    bind(sp, (struct sockaddr *)&xa, xl);
    show("sendto stream path", sendto(u, "x", 1, 0, (struct sockaddr *)&xa, xl));
    close(sp);

    /* filesystem name */
    int p = socket(AF_UNIX, SOCK_DGRAM, 0);
    show("bind path", bind(p, (struct sockaddr *)&pa, pl));
    show("sendto path", sendto(a, "p", 1, 0, (struct sockaddr *)&pa, pl));
    from("recvfrom path", p, &aa, al);
    show("sendto from path", sendto(p, "q", 1, 0, (struct sockaddr *)&aa, al));
    from("recvfrom path sender", a, &pa, pl);

    /* connect: a default destination, and a filter on the receiver */
    show("connect a->b", connect(a, (struct sockaddr *)&ba, bl));
    struct sockaddr_un g;
    socklen_t gl = sizeof g;
    show("getpeername", getpeername(a, (struct sockaddr *)&g, &gl));
    show("  same", gl == bl && memcmp(&g, &ba, bl) == 0);
    struct ucred cr;
    socklen_t crl = sizeof cr;
    show("SO_PEERCRED connected dgram", getsockopt(a, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
    show("  pid", cr.pid);
    show("  uid is -1", cr.uid == (uid_t)-1);
    show("send connected", send(a, "c", 1, 0));
    from("recvfrom connected", b, &aa, al);
    show("connect b->a", connect(b, (struct sockaddr *)&aa, al));
    show("sendto b from other", sendto(u, "x", 1, 0, (struct sockaddr *)&ba, bl));
    show("sendto a from path", sendto(p, "x", 1, 0, (struct sockaddr *)&aa, al));
    struct sockaddr_un un = {.sun_family = AF_UNSPEC};
    show("disconnect b", connect(b, (struct sockaddr *)&un, sizeof un));
    gl = sizeof g;
    show("getpeername disconnected", getpeername(b, (struct sockaddr *)&g, &gl));
    show("sendto b from other again", sendto(u, "y", 1, 0, (struct sockaddr *)&ba, bl));
    from("recvfrom after disconnect", b, NULL, 0);

    /* SCM_RIGHTS with an address */
    int pp[2];
    pipe(pp);
    show("sendmsg to b with fd", send_fds(u, "r", &pp[1], 1, &ba, bl));
    close(pp[1]);
    readable(b);
    struct sockaddr_un fa;
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &fa;
    mh.msg_namelen = sizeof fa;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = sizeof cm.b;
    show("recvmsg", recvmsg(b, &mh, 0));
    show("  namelen", mh.msg_namelen);
    struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
    int got = -1;
    if (ch != NULL)
        memcpy(&got, CMSG_DATA(ch), sizeof got);
    show("  fd works", write(got, "z", 1));
    show("  pipe read", read(pp[0], buf, 1));
    close(got);
    close(pp[0]);

    /* a full receiver: non-blocking sends end with EAGAIN */
    int full = socket(AF_UNIX, SOCK_DGRAM, 0);
    xl = abstract(&xa, "full");
    bind(full, (struct sockaddr *)&xa, xl);
    int sent = 0;
    while (sent < 100000 && sendto(u, "f", 1, MSG_DONTWAIT, (struct sockaddr *)&xa, xl) == 1)
        sent++;
    show("sends until full", sent);
    show("  then", -1);
    close(full);
    show("sendto closed receiver", sendto(u, "x", 1, 0, (struct sockaddr *)&xa, xl));

    /* socketpair */
    int sv[2];
    show("socketpair", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    show("send", send(sv[0], "ab", 2, 0));
    readable(sv[1]);
    show("recv 1 MSG_TRUNC", recv(sv[1], buf, 1, MSG_TRUNC));
    close(sv[0]);
    show("send to closed peer", send(sv[1], "x", 1, MSG_NOSIGNAL));
    close(sv[1]);

    close(a);
    close(b);
    close(u);
    close(p);
    unlink("dsock");
    unlink("streamsock");
    chdir("/");
    rmdir(dir);
    return 0;
}
