/* unix_rights: SCM_RIGHTS over AF_UNIX connections of the stack: a pipe, shim TCP,
 * UDP and AF_UNIX sockets cross and keep working; fd numbers, MSG_CMSG_CLOEXEC,
 * MSG_CTRUNC, a stream read stopping after the data that carried fds, and fds in
 * flight released when nobody receives them. */
#define _GNU_SOURCE
#include "conformance.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/un.h>
#include <unistd.h>

/* receive with room for `room` fds; the fds go to out[], their count is returned in *n */
static ssize_t recv_fds(int s, char *buf, size_t len, int *out, int room, int flags, int *n,
                        int *mflags)
{
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {buf, len};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = CMSG_LEN(sizeof(int) * (size_t)room);
    ssize_t r = recvmsg(s, &mh, flags);
    *n = 0;
    *mflags = mh.msg_flags;
    for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
        if (ch->cmsg_type == SCM_RIGHTS) {
            *n = (int)((ch->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(out, CMSG_DATA(ch), sizeof(int) * (size_t)*n);
        }
    return r;
}

static void run(int type, const char *tn)
{
    printf("== %s\n", tn);
    int sv[2];
    show("socketpair", socketpair(AF_UNIX, type, 0, sv));
    char buf[64];
    int got[4], n, mf;

    /* a pipe, a TCP listener, a UDP socket and a unix socket, in one message */
    int p[2];
    pipe(p);
    struct sockaddr_in la;
    int tl = loopback_listener(&la, 5);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    int up[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, up);
    int fds[4] = {p[1], tl, u, up[0]};
    show("sendmsg 4 fds", send_fds(sv[0], "a", fds, 4, NULL, 0));
    close(p[1]);
    close(u);
    close(up[0]);
    readable(sv[1]);
    int lowest = dup(0);
    close(lowest);
    show("recvmsg", recv_fds(sv[1], buf, sizeof buf, got, 4, MSG_CMSG_CLOEXEC, &n, &mf));
    show("  fds", n);
    show("  lowest number", got[0] == lowest);
    show("  cloexec", fcntl(got[0], F_GETFD) & FD_CLOEXEC);
    show("  pipe works", write(got[0], "z", 1));
    show("  pipe read", read(p[0], buf, 1));
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    show("  tcp getsockname", getsockname(got[1], (struct sockaddr *)&a, &al));
    show("  same port", a.sin_port == la.sin_port);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    show("  tcp connect", connect(c, (struct sockaddr *)&la, sizeof la));
    readable(got[1]);
    int k = accept(got[1], NULL, NULL);
    show("  tcp accept on received fd", k >= 0);
    close(k);
    close(c);
    int t = -1;
    socklen_t sl = sizeof t;
    show("  udp SO_TYPE", getsockopt(got[2], SOL_SOCKET, SO_TYPE, &t, &sl));
    show("    value", t);
    show("  unix send", send(got[3], "u", 1, 0));
    readable(up[1]);
    show("  unix recv", recv(up[1], buf, sizeof buf, 0));
    for (int i = 0; i < n; i++)
        close(got[i]);
    close(tl);

    /* MSG_CTRUNC: room for one fd of two */
    int q[2];
    pipe(q);
    int two[2] = {q[0], q[1]};
    show("sendmsg 2 fds", send_fds(sv[0], "b", two, 2, NULL, 0));
    readable(sv[1]);
    show("recvmsg room for 1", recv_fds(sv[1], buf, sizeof buf, got, 1, 0, &n, &mf));
    show("  fds", n);
    show("  MSG_CTRUNC", (mf & MSG_CTRUNC) != 0);
    close(got[0]);
    close(q[0]);
    /* q[1] was dropped by the truncation: the read end sees EOF once ours is closed */
    int q2[2];
    pipe(q2);
    show("sendmsg write end", send_fds(sv[0], "c", &q2[1], 1, NULL, 0));
    show("send more data", send(sv[0], "def", 3, 0));
    readable(sv[1]);
    usleep(20000);
    show("recvmsg stops after fds", recv_fds(sv[1], buf, sizeof buf, got, 1, 0, &n, &mf));
    show("  fds", n);
    close(got[0]);
    show("recv rest", recv(sv[1], buf, sizeof buf, 0));
    /* in flight, never received: released when the receiving socket goes away */
    show("sendmsg write end again", send_fds(sv[0], "g", &q2[1], 1, NULL, 0));
    close(q2[1]);
    close(q[1]);
    close(sv[0]);
    close(sv[1]);
    show("pipe EOF after close", readable(q2[0]) == 1 ? read(q2[0], buf, 1) : -1);
    close(q2[0]);
    close(p[0]);
    close(up[1]);
}

int main(void)
{
    run(SOCK_STREAM, "stream");
    run(SOCK_SEQPACKET, "seqpacket");
    return 0;
}
