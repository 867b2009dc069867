/* unix_stream: AF_UNIX SOCK_STREAM and SOCK_SEQPACKET sockets: names (abstract and
 * filesystem), bind/listen/connect/accept errnos, backlog, getsockname/getpeername with
 * their lengths, data, boundaries, SCM_RIGHTS, SO_PEERCRED, shutdown and EPIPE. */
#define _GNU_SOURCE
#include "conformance.h"
#include "unix_names.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* getsockname/getpeername: the length, and whether the address is `want` */
static void names(const char *what, int fd, int peer, const struct sockaddr_un *want,
                  socklen_t wantlen)
{
    struct sockaddr_un a;
    socklen_t l = sizeof a;
    memset(&a, 0x55, sizeof a);
    char buf[96];
    int r = peer ? getpeername(fd, (struct sockaddr *)&a, &l)
                 : getsockname(fd, (struct sockaddr *)&a, &l);
    snprintf(buf, sizeof buf, "%s %s", what, peer ? "getpeername" : "getsockname");
    show(buf, r);
    if (r == 0) {
        snprintf(buf, sizeof buf, "%s   len", what);
        show(buf, l);
        snprintf(buf, sizeof buf, "%s   same", what);
        show(buf, want != NULL && l == wantlen && memcmp(&a, want, l) == 0);
    }
}

static void run(int type, const char *tn)
{
    char w[96];
    struct sockaddr_un la, ba, pa;
    socklen_t ll = abstract(&la, tn), bl, pl;
    printf("== %s\n", tn);

    int u = socket(AF_UNIX, type, 0);
    show("socket", u >= 0);
    show("socket proto 1", close(socket(AF_UNIX, type, 1)));
    show("socket proto 2", socket(AF_UNIX, type, 2));
    show("unconnected send", send(u, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT));
    char c;
    show("unconnected recv", recv(u, &c, 1, MSG_DONTWAIT));
    names("unconnected", u, 0, NULL, 0);
    names("unconnected", u, 1, NULL, 0);
    show("listen unbound", listen(u, 5));
    show("accept unbound", accept(u, NULL, NULL));
    show("connect nobody", connect(u, (struct sockaddr *)&la, ll));
    show("connect short", connect(u, (struct sockaddr *)&la, 2));
    show("bind short len 1", bind(u, (struct sockaddr *)&la, 1));

    int l = socket(AF_UNIX, type, 0);
    show("bind abstract", bind(l, (struct sockaddr *)&la, ll));
    names("listener", l, 0, &la, ll);
    show("bind again", bind(l, (struct sockaddr *)&la, ll));
    show("bind taken", bind(u, (struct sockaddr *)&la, ll));
    show("connect not listening", connect(u, (struct sockaddr *)&la, ll));
    show("listen", listen(l, 1));
    struct pollfd lp = {l, POLLIN | POLLOUT, 0};
    show("poll idle listener", poll(&lp, 1, 0));
    show("  revents", lp.revents);
    int v = -1;
    socklen_t vl = sizeof v;
    show("SO_ACCEPTCONN", getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl));
    show("  value", v);
    int other = socket(AF_UNIX, type == SOCK_STREAM ? SOCK_SEQPACKET : SOCK_STREAM, 0);
    show("connect other type", connect(other, (struct sockaddr *)&la, ll));
    close(other);

    show("connect", connect(u, (struct sockaddr *)&la, ll));
    show("connect again", connect(u, (struct sockaddr *)&la, ll));
    names("client", u, 0, NULL, 0);
    names("client", u, 1, &la, ll);
    struct sockaddr_un aa;
    socklen_t al = sizeof aa;
    int s = accept(l, (struct sockaddr *)&aa, &al);
    show("accept", s >= 0);
    show("  addrlen", al);
    names("accepted", s, 0, &la, ll);
    names("accepted", s, 1, NULL, 0);
    struct ucred cr;
    socklen_t crl = sizeof cr;
    show("SO_PEERCRED", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
    show("  pid is mine", cr.pid == getpid());
    show("  uid", cr.uid);
    show("  gid", cr.gid);
    crl = sizeof cr;
    show("client SO_PEERCRED", getsockopt(u, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
    show("  pid is mine", cr.pid == getpid());

    /* data, boundaries, MSG_TRUNC, MSG_PEEK */
    show("send ab", send(u, "ab", 2, 0));
    show("send cde", send(u, "cde", 3, 0));
    readable(s);
    usleep(20000);
    char buf[16];
    show("recv peek", recv(s, buf, sizeof buf, MSG_PEEK));
    show("recv 1 MSG_TRUNC", recv(s, buf, 1, MSG_TRUNC));
    show("recv", recv(s, buf, sizeof buf, 0));
    struct sockaddr_un fa;
    socklen_t fl = sizeof fa;
    show("send f", send(u, "f", 1, 0));
    readable(s);
    show("recvfrom unnamed", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&fa, &fl));
    show("  addrlen", fl);
    show("recv empty", recv(s, buf, sizeof buf, MSG_DONTWAIT));

    /* SCM_RIGHTS: a pipe's write end crosses the connection */
    int p[2];
    pipe(p);
    show("sendmsg SCM_RIGHTS", send_fds(u, "r", &p[1], 1, NULL, 0));
    close(p[1]);
    readable(s);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = cm.b;
    mh.msg_controllen = sizeof cm.b;
    show("recvmsg SCM_RIGHTS", recvmsg(s, &mh, MSG_CMSG_CLOEXEC));
    struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
    show("  got SCM_RIGHTS", ch != NULL && ch->cmsg_type == SCM_RIGHTS);
    int got = -1;
    if (ch != NULL)
        memcpy(&got, CMSG_DATA(ch), sizeof got);
    show("  cloexec", fcntl(got, F_GETFD) & FD_CLOEXEC);
    show("  write through it", write(got, "z", 1));
    show("  pipe read", read(p[0], buf, 1));
    close(got);
    close(p[0]);

    /* shutdown, EOF, EPIPE */
    show("shutdown bad", shutdown(u, 7));
    show("shutdown WR", shutdown(u, SHUT_WR));
    readable(s);
    show("read EOF", read(s, buf, sizeof buf));
    show("send after SHUT_WR", send(u, "x", 1, MSG_NOSIGNAL));
    close(s);
    usleep(20000);
    show("client read after close", recv(u, buf, sizeof buf, MSG_DONTWAIT));
    close(u);

    /* backlog: backlog 1 takes two connections, a non-blocking third gets EAGAIN */
    int c1 = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);
    int c2 = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);
    int c3 = socket(AF_UNIX, type | SOCK_NONBLOCK, 0);
    show("backlog connect 1", connect(c1, (struct sockaddr *)&la, ll));
    show("backlog connect 2", connect(c2, (struct sockaddr *)&la, ll));
    show("backlog connect 3", connect(c3, (struct sockaddr *)&la, ll));
    s = accept(l, NULL, NULL);
    show("accept one", s >= 0);
    show("backlog connect 3 again", connect(c3, (struct sockaddr *)&la, ll));
    show("client writes before accept", send(c3, "q", 1, 0));
    close(s);
    close(c1);
    close(c2);
    close(c3);
    close(accept(l, NULL, NULL)); /* closed clients still hold their place */
    close(accept(l, NULL, NULL));

    /* a full backlog: a blocking connect waits, SO_SNDTIMEO bounds it */
    c1 = socket(AF_UNIX, type, 0);
    c2 = socket(AF_UNIX, type, 0);
    c3 = socket(AF_UNIX, type, 0);
    connect(c1, (struct sockaddr *)&la, ll);
    connect(c2, (struct sockaddr *)&la, ll);
    struct timeval tv = {0, 100000};
    setsockopt(c3, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    show("blocking connect, full backlog", connect(c3, (struct sockaddr *)&la, ll));
    close(c1);
    close(c2);
    close(c3);
    close(accept(l, NULL, NULL));
    close(accept(l, NULL, NULL));

    /* a named client: the server sees its name */
    int nc = socket(AF_UNIX, type, 0);
    bl = abstract(&ba, "client");
    snprintf(w, sizeof w, "bind client name");
    show(w, bind(nc, (struct sockaddr *)&ba, bl));
    show("connect named", connect(nc, (struct sockaddr *)&la, ll));
    s = accept(l, NULL, NULL);
    names("named accepted", s, 1, &ba, bl);
    show("send g", send(nc, "g", 1, 0));
    readable(s);
    fl = sizeof fa;
    show("recvfrom named", recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&fa, &fl));
    show("  same", fl == bl && memcmp(&fa, &ba, bl) == 0);
    close(s);
    close(nc);
    /* the listener goes away with a connection nobody accepted */
    nc = socket(AF_UNIX, type, 0);
    show("connect, never accepted", connect(nc, (struct sockaddr *)&la, ll));
    close(l);
    usleep(20000);
    show("  recv after listener closed", recv(nc, buf, sizeof buf, MSG_DONTWAIT));
    close(nc);
    u = socket(AF_UNIX, type, 0);
    show("connect closed listener", connect(u, (struct sockaddr *)&la, ll));
    l = socket(AF_UNIX, type, 0);
    show("bind freed name", bind(l, (struct sockaddr *)&la, ll));
    close(l);
    close(u);

    /* filesystem names */
    mode_t old = umask(022);
    pl = path(&pa, tn);
    l = socket(AF_UNIX, type, 0);
    show("bind path", bind(l, (struct sockaddr *)&pa, pl));
    umask(old);
    struct stat st;
    show("stat node", stat(tn, &st));
    show("  is socket", S_ISSOCK(st.st_mode));
    printf("  mode %o\n", st.st_mode & 07777);
    names("path", l, 0, &pa, pl);
    u = socket(AF_UNIX, type, 0);
    show("bind path taken", bind(u, (struct sockaddr *)&pa, pl));
    show("connect path not listening", connect(u, (struct sockaddr *)&pa, pl));
    show("listen path", listen(l, 5));
    other = socket(AF_UNIX, type == SOCK_STREAM ? SOCK_SEQPACKET : SOCK_STREAM, 0);
    show("connect path other type", connect(other, (struct sockaddr *)&pa, pl));
    close(other);
    struct sockaddr_un xa;
    socklen_t xl = path(&xa, "nodir/x");
    show("bind ENOENT", bind(u, (struct sockaddr *)&xa, xl));
    show("connect ENOENT", connect(u, (struct sockaddr *)&xa, xl));
    close(open("file", O_CREAT | O_WRONLY, 0644));
    xl = path(&xa, "file/x");
    show("bind ENOTDIR", bind(u, (struct sockaddr *)&xa, xl));
    show("connect ENOTDIR", connect(u, (struct sockaddr *)&xa, xl));
    xl = path(&xa, "file");
    show("connect regular file", connect(u, (struct sockaddr *)&xa, xl));
    /* the path without its NUL in the length: the same name */
    show("connect path", connect(u, (struct sockaddr *)&pa, pl - 1));
    names("path client", u, 1, &pa, pl);
    s = accept(l, NULL, NULL);
    show("accept path", s >= 0);
    names("path accepted", s, 0, &pa, pl);
    show("send h", send(u, "h", 1, 0));
    readable(s);
    show("recv h", recv(s, buf, sizeof buf, 0));
    close(s);
    close(u);
    /* write permission on the node, checked for an unprivileged caller */
    chmod(".", 0755);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        int k = socket(AF_UNIX, type, 0);
        show("unprivileged connect", connect(k, (struct sockaddr *)&pa, pl));
        _exit(0);
    }
    int wst;
    waitpid(pid, &wst, 0);
    chmod(tn, 0777);
    pid = fork();
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(2);
        int k = socket(AF_UNIX, type, 0);
        show("unprivileged connect 0777", connect(k, (struct sockaddr *)&pa, pl));
        _exit(0);
    }
    waitpid(pid, &wst, 0);
    s = accept(l, NULL, NULL);
    show("accept unprivileged", s >= 0);
    crl = sizeof cr;
    show("SO_PEERCRED", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
    show("  pid is child", cr.pid == pid);
    show("  uid", cr.uid);
    show("  gid", cr.gid);
    close(s);
    unlink(tn);
    u = socket(AF_UNIX, type, 0);
    show("connect unlinked", connect(u, (struct sockaddr *)&pa, pl));
    close(u);
    close(l);
    unlink("file");
}

int main(void)
{
    snprintf(tag, sizeof tag, "rn-unix-%d", (int)getpid());
    char dir[] = "/tmp/rn-unixXXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) < 0)
        return 1;
    run(SOCK_STREAM, "stream");
    run(SOCK_SEQPACKET, "seqpacket");
    chdir("/");
    rmdir(dir);
    return 0;
}
