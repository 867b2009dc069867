/* unix_pair: socketpair(AF_UNIX) of every type, and what goes over a connection:
 * names and their lengths, SO_PEERCRED, SCM_CREDENTIALS, MSG_PEEK with SO_PEEK_OFF,
 * MSG_WAITALL, MSG_OOB on stream sockets, EPIPE, autobind. */
#define _GNU_SOURCE
#include "conformance.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

static void namelen(const char *what, int fd, int peer)
{
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    memset(&a, 0x55, sizeof a);
    int r = peer ? getpeername(fd, (struct sockaddr *)&a, &l)
                 : getsockname(fd, (struct sockaddr *)&a, &l);
    show(what, r);
    if (r == 0) {
        show("  len", l);
        show("  family", a.sun_family);
        show("  abstract", l > 2 && a.sun_path[0] == 0);
    }
}

static void pair(int type, const char *tn)
{
    char buf[64];
    int sv[2] = {-1, -1};
    printf("== %s\n", tn);
    show("socketpair", socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv));
    show("  cloexec", fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
    show("  fds in order", sv[1] == sv[0] + 1);
    int bad[2];
    show("socketpair proto 2", socketpair(AF_UNIX, type, 2, bad));
    show("  reserved fds stored", bad[0] == sv[1] + 1 && bad[1] == sv[1] + 2);
    show("socketpair EFAULT", socketpair(AF_UNIX, type, 0, (int *)-1));
    int t = -1;
    socklen_t tl = sizeof t;
    show("SO_TYPE", getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &t, &tl));
    show("  value", t);
    namelen("getsockname", sv[0], 0);
    namelen("getpeername", sv[0], 1);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    show("SO_PEERCRED", getsockopt(sv[1], SOL_SOCKET, SO_PEERCRED, &cr, &cl));
    show("  pid is mine", cr.pid == getpid());
    show("  uid", cr.uid);
    show("listen", listen(sv[0], 1));

    /* message boundaries, MSG_WAITALL, MSG_PEEK and SO_PEEK_OFF */
    show("send abc", send(sv[0], "abc", 3, 0));
    show("send defg", send(sv[0], "defg", 4, 0));
    readable(sv[1]);
    show("recv 2 MSG_PEEK", recv(sv[1], buf, 2, MSG_PEEK));
    int off = 1;
    show("SO_PEEK_OFF", setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off));
    show("recv MSG_PEEK at offset", recv(sv[1], buf, sizeof buf, MSG_PEEK));
    buf[0] = 0;
    show("recv 10 MSG_WAITALL|DONTWAIT", recv(sv[1], buf, 10, MSG_WAITALL | MSG_DONTWAIT));
    show("  first byte", buf[0]);
    show("recv rest", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    show("recv empty", recv(sv[1], buf, sizeof buf, MSG_DONTWAIT));
    off = -1;
    setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);

    /* SCM_CREDENTIALS */
    int on = 1;
    show("SO_PASSCRED", setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
    show("send x", send(sv[0], "x", 1, 0));
    readable(sv[1]);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct ucred))];
    } cm;
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = sizeof cm.b;
    show("recvmsg", recvmsg(sv[1], &mh, 0));
    struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
    show("  SCM_CREDENTIALS", ch != NULL && ch->cmsg_type == SCM_CREDENTIALS);
    if (ch != NULL) {
        memcpy(&cr, CMSG_DATA(ch), sizeof cr);
        show("  pid is mine", cr.pid == getpid());
        show("  uid", cr.uid);
        show("  gid", cr.gid);
    }
    /* sending someone else's credentials: pid 1 needs CAP_SYS_ADMIN (root has it) */
    ch = CMSG_FIRSTHDR(&mh);
    ch->cmsg_level = SOL_SOCKET;
    ch->cmsg_type = SCM_CREDENTIALS;
    ch->cmsg_len = CMSG_LEN(sizeof cr);
    cr.pid = 1;
    cr.uid = 0;
    cr.gid = 0;
    memcpy(CMSG_DATA(ch), &cr, sizeof cr);
    iov.iov_len = 1;
    mh.msg_controllen = sizeof cm.b;
    show("sendmsg creds of pid 1", sendmsg(sv[0], &mh, 0));
    readable(sv[1]);
    iov.iov_len = sizeof buf;
    mh.msg_controllen = sizeof cm.b;
    show("recvmsg", recvmsg(sv[1], &mh, 0));
    ch = CMSG_FIRSTHDR(&mh);
    if (ch != NULL) {
        memcpy(&cr, CMSG_DATA(ch), sizeof cr);
        show("  pid", cr.pid);
    }

    if (type == SOCK_STREAM) {
        /* MSG_OOB: the last byte is out of band, at the mark */
        show("send OOB", send(sv[0], "12!", 3, MSG_OOB));
        struct pollfd p = {sv[1], POLLPRI, 0};
        show("poll POLLPRI", poll(&p, 1, 2000));
        show("  revents", p.revents & POLLPRI);
        char oob = 0;
        show("recv MSG_OOB", recv(sv[1], &oob, 1, MSG_OOB));
        show("  byte", oob);
        int mark = -1;
        show("recv 2", recv(sv[1], buf, 2, 0));
        show("SIOCATMARK", ioctl(sv[1], SIOCATMARK, &mark));
        show("  at mark", mark);
    }

    /* a socketpair end takes a name later; its peer sees it */
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "rn-pair-%d-%s", (int)getpid(), tn);
    socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    show("bind pair end", bind(sv[0], (struct sockaddr *)&a, al));
    namelen("getpeername of other end", sv[1], 1);
    show("connect pair end", connect(sv[1], (struct sockaddr *)&a, al));

    show("close one end", close(sv[0]));
    show("send to closed", send(sv[1], "y", 1, MSG_NOSIGNAL));
    signal(SIGPIPE, on_sigpipe);
    sigpipes = 0;
    show("write to closed", write(sv[1], "y", 1));
    show("  SIGPIPE", sigpipes);
    signal(SIGPIPE, SIG_DFL);
    close(sv[1]);

    /* autobind: bind with the family alone, and connect with SO_PASSCRED */
    int s = socket(AF_UNIX, type, 0);
    show("autobind", bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path)));
    namelen("autobound", s, 0);
    show("autobind again", bind(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path)));
    if (type != SOCK_DGRAM) {
        int l = socket(AF_UNIX, type, 0);
        n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "rn-pair-%d-l", (int)getpid());
        al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
        bind(l, (struct sockaddr *)&a, al);
        listen(l, 5);
        int c = socket(AF_UNIX, type, 0);
        show("SO_PASSCRED client", setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
        show("connect", connect(c, (struct sockaddr *)&a, al));
        namelen("passcred client", c, 0);
        int k = accept(l, NULL, NULL);
        namelen("accepted peer", k, 1);
        close(k);
        close(c);
        close(l);
    }
    close(s);
}

/* an inherited socket after exec: still the stack's (names, peer name on receive) */
static void exec_child(int fd)
{
    printf("== after exec\n");
    char buf[8];
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    readable(fd);
    show("recvfrom", recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&a, &l));
    show("  addrlen", l);
    namelen("getsockname", fd, 0);
    namelen("getpeername", fd, 1);
    show("send", send(fd, "k", 1, 0));
}

int main(int argc, char **argv)
{
    if (argc == 3) {
        exec_child(atoi(argv[2]));
        return 0;
    }
    pair(SOCK_STREAM, "stream");
    pair(SOCK_SEQPACKET, "seqpacket");
    pair(SOCK_DGRAM, "dgram");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct sockaddr_un n = {.sun_family = AF_UNIX};
    snprintf(n.sun_path + 1, sizeof n.sun_path - 1, "rn-pair-%d-x", (int)getpid());
    bind(sv[0], (struct sockaddr *)&n, (socklen_t)(3 + strlen(n.sun_path + 1)));
    send(sv[0], "p", 1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        char num[16];
        snprintf(num, sizeof num, "%d", sv[1]);
        execl(argv[0], argv[0], "child", num, (char *)NULL);
        _exit(1);
    }
    int st;
    waitpid(pid, &st, 0);
    char buf[8];
    show("parent recv", recv(sv[0], buf, sizeof buf, MSG_DONTWAIT));
    return 0;
}
