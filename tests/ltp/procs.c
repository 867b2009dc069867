/* procs: shim sockets across processes and threads.  A forked child uses an inherited
 * socket; an exec'd image uses one inherited without FD_CLOEXEC while a SOCK_CLOEXEC
 * one is gone (EBADF); a TCP socket passed with SCM_RIGHTS over an AF_UNIX socketpair
 * works in the receiving process; threads send and receive concurrently on different
 * sockets and on the same one.  Prints return values, errno names and byte counts. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static int wait_in(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 5000);
}

/* read exactly n bytes (bounded waits) */
static long read_n(int fd, char *buf, long n)
{
    long got = 0;
    while (got < n && wait_in(fd) > 0) {
        long r = recv(fd, buf + got, (size_t)(n - got), MSG_DONTWAIT);
        if (r <= 0)
            break;
        got += r;
    }
    return got;
}

static int pair(int l, struct sockaddr_in *a, int *s, int flags)
{
    int c = socket(AF_INET, SOCK_STREAM | flags, 0);
    connect(c, (struct sockaddr *)a, sizeof *a);
    *s = accept(l, NULL, NULL);
    return c;
}

/* the exec'd image: argv[2] = inherited socket, argv[3] = a SOCK_CLOEXEC one */
static int exec_image(char **argv)
{
    int fd = atoi(argv[2]), gone = atoi(argv[3]);
    char buf[16];
    show("exec: send on the inherited socket", send(fd, "exec", 4, 0));
    show("exec: recv", read_n(fd, buf, 5));
    int t = 0;
    socklen_t tl = sizeof t;
    show("exec: getsockopt SO_TYPE on the SOCK_CLOEXEC one",
         getsockopt(gone, SOL_SOCKET, SO_TYPE, &t, &tl));
    show("exec: send on the SOCK_CLOEXEC one", send(gone, "x", 1, MSG_NOSIGNAL));
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    show("exec: getpeername", getpeername(fd, (struct sockaddr *)&a, &al));
    return 0;
}

struct job {
    int fd;
    int n;
    long sent;
};

static void *sender(void *arg)
{
    struct job *j = arg;
    char chunk[1000];
    memset(chunk, 'a' + j->n, sizeof chunk);
    for (int i = 0; i < 100; i++) {
        long r = send(j->fd, chunk, sizeof chunk, 0);
        if (r > 0)
            j->sent += r;
    }
    return NULL;
}

static void *receiver(void *arg)
{
    struct job *j = arg;
    char buf[100000];
    j->sent = read_n(j->fd, buf, 100000);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "exec") == 0)
        return exec_image(argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 16);
    char buf[100000];

    /* fork: the child uses the inherited socket, the parent keeps its copy */
    int s, c = pair(l, &a, &s, 0);
    pid_t pid = fork();
    if (pid == 0) {
        show("child: send", send(c, "child", 5, 0));
        show("child: recv", read_n(c, buf, 6));
        int n = socket(AF_INET, SOCK_STREAM, 0);
        show("child: connect a new socket", connect(n, (struct sockaddr *)&a, sizeof a));
        close(n);
        _exit(0);
    }
    /* the parent prints once the child is done: one order of lines both ways */
    long r1 = read_n(s, buf, 5), r2 = send(s, "parent", 6, 0);
    int st;
    waitpid(pid, &st, 0);
    show("server recv from the child", r1);
    show("server send", r2);
    int n2 = accept(l, NULL, NULL);
    show("accept the child's connection", n2 >= 0 ? 0 : -1);
    close(n2);
    show("parent: send after the child exited", send(c, "still", 5, 0));
    show("server recv", read_n(s, buf, 5));
    close(c);
    close(s);

    /* exec */
    c = pair(l, &a, &s, 0);
    int s2, gone = pair(l, &a, &s2, SOCK_CLOEXEC);
    pid = fork();
    if (pid == 0) {
        char f1[16], f2[16];
        snprintf(f1, sizeof f1, "%d", c);
        snprintf(f2, sizeof f2, "%d", gone);
        execl("/proc/self/exe", argv[0], "exec", f1, f2, (char *)NULL);
        _exit(127);
    }
    r1 = read_n(s, buf, 4);
    r2 = send(s, "hello", 5, 0);
    waitpid(pid, &st, 0);
    show("server recv from the exec'd image", r1);
    show("server send", r2);
    printf("exec'd image exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(c);
    close(s);
    close(gone);
    close(s2);

    /* SCM_RIGHTS: a TCP socket passed to another process over a unix socketpair */
    int sv[2];
    show("socketpair AF_UNIX", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    c = pair(l, &a, &s, 0);
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        close(c);
        char b;
        struct iovec iov = {&b, 1};
        union {
            struct cmsghdr h;
            char space[CMSG_SPACE(sizeof(int))];
        } u;
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = u.space;
        m.msg_controllen = sizeof u.space;
        show("receiver: recvmsg", recvmsg(sv[1], &m, 0));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        int fd = -1;
        if (cm && cm->cmsg_type == SCM_RIGHTS)
            memcpy(&fd, CMSG_DATA(cm), sizeof fd);
        show("receiver: got an fd", fd >= 0 ? 0 : -1);
        struct sockaddr_in pa;
        socklen_t pl = sizeof pa;
        show("receiver: getpeername", getpeername(fd, (struct sockaddr *)&pa, &pl));
        printf("receiver: peer is the listener's port: %d\n", pa.sin_port == a.sin_port);
        show("receiver: send", send(fd, "passed", 6, 0));
        show("receiver: recv", read_n(fd, buf, 4));
        _exit(0);
    }
    close(sv[1]);
    r1 = send_fds(sv[0], "x", &c, 1, NULL, 0);
    close(c);   /* the receiver's copy keeps the connection */
    r2 = read_n(s, buf, 6);
    long r3 = send(s, "back", 4, 0);
    waitpid(pid, &st, 0);
    show("sendmsg SCM_RIGHTS", r1);
    show("server recv from the receiver", r2);
    show("server send", r3);
    show("server recv after the receiver exited (EOF)", read_n(s, buf, 1));
    close(s);
    close(sv[0]);

    /* threads: four connections, one sender thread each, concurrently */
    int cs[4], ss[4];
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        cs[i] = pair(l, &a, &ss[i], 0);
        jobs[i] = (struct job){cs[i], i, 0};
        pthread_create(&th[i], NULL, sender, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        long got = read_n(ss[i], buf, 100000);
        pthread_join(th[i], NULL);
        int same = 1;
        for (long k = 0; k < got; k++)
            same &= buf[k] == 'a' + i;
        printf("thread %d: sent %ld, server got %ld, all its own bytes %d\n", i, jobs[i].sent, got,
               same);
        close(cs[i]);
        close(ss[i]);
    }
    /* two threads sending on the same socket, one receiving on it */
    c = pair(l, &a, &s, 0);
    struct job j1 = {c, 0, 0}, j2 = {c, 1, 0}, jr = {s, 0, 0};
    pthread_t r;
    pthread_create(&r, NULL, receiver, &jr);
    pthread_create(&th[0], NULL, sender, &j1);
    pthread_create(&th[1], NULL, sender, &j2);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    pthread_join(r, NULL);
    printf("same socket: sent %ld + %ld, received %ld\n", j1.sent, j2.sent, jr.sent);
    close(c);
    close(s);
    close(l);
    return 0;
}
