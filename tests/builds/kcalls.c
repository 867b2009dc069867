/* kcalls.c - the calls the kernel serves on a program's sockets, for --trace on both
 * paths (tests/test_seccomp.py): fcntl, dup/dup2/dup3, poll, ppoll, select, pselect,
 * readv/writev, send/recv, sendmsg/recvmsg, epoll, sendfile on a loopback TCP pair; a signal
 * interrupting a blocking poll, epoll_wait and select (SA_RESTART), and a splice it
 * restarts (SA_RESTART); a poll that an
 * ignored signal (a child's SIGCHLD) wakes and the kernel restarts while a thread sends
 * the data it waits for.  Prints what each call returned. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }

static void alarm_in(long usec)
{
    struct itimerval it = {{0, 0}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void *piper(void *arg)
{
    usleep(300000);
    return (void *)(long)write(*(int *)arg, "pipe", 4);
}

static void *peer(void *arg)
{
    int fd = *(int *)arg;
    usleep(200000);
    struct pollfd p = {fd, POLLOUT, 0};
    int r = poll(&p, 1, 1000);
    if (write(fd, "x", 1) != 1)
        r = -1;
    return (void *)(long)r;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &alen))
        return 1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a))
        return 1;
    int s = accept(l, NULL, NULL);

    int fl = fcntl(c, F_GETFL);
    printf("getfl %d\n", fl & O_NONBLOCK);
    printf("setfl %d\n", fcntl(c, F_SETFL, fl | O_NONBLOCK));
    printf("setfd %d\n", fcntl(c, F_SETFD, FD_CLOEXEC));
    int d1 = dup(c), d2 = dup2(c, 20), d3 = dup3(c, 21, O_CLOEXEC);
    printf("dups %d %d %d\n", d1 > 0, d2, d3);
    close(d1);
    close(d2);
    close(d3);
    int d4 = fcntl(c, F_DUPFD_CLOEXEC, 30);
    printf("dupfd %d\n", d4);
    close(d4);
    int r = dup2(c, -1);
    printf("dup2 bad %d %s\n", r, strerror(errno));

    struct pollfd p[2] = {{s, POLLIN, 0}, {c, POLLOUT, 0}};
    r = poll(p, 2, 0);
    printf("poll %d %x %x\n", r, p[0].revents, p[1].revents);
    struct iovec wv[2] = {{"hello ", 6}, {"world", 5}};
    printf("writev %zd\n", writev(c, wv, 2));
    struct timespec ts = {1, 0};
    r = ppoll(p, 1, &ts, NULL);
    printf("ppoll %d %x\n", r, p[0].revents);
    char b1[4], b2[16];
    struct iovec rv[2] = {{b1, sizeof b1}, {b2, sizeof b2}};
    ssize_t k = readv(s, rv, 2);
    printf("readv %zd %.4s%.*s\n", k, b1, (int)(k - 4), b2);

    struct iovec mv = {"msg", 3};
    struct msghdr m = {.msg_iov = &mv, .msg_iovlen = 1};
    printf("sendmsg %zd\n", sendmsg(c, &m, 0));
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    struct timeval tv = {1, 500000};
    r = select(s + 1, &rd, NULL, NULL, &tv);
    printf("select %d %d\n", r, FD_ISSET(s, &rd));
    sigset_t none;
    sigemptyset(&none);
    printf("pselect %d\n", pselect(s + 1, &rd, NULL, NULL, &ts, &none));
    char rb[16];
    struct iovec rmv = {rb, sizeof rb};
    struct msghdr rm = {.msg_iov = &rmv, .msg_iovlen = 1};
    k = recvmsg(s, &rm, 0);
    printf("recvmsg %zd %.*s %d\n", k, (int)k, rb, rm.msg_flags);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234};
    printf("epoll_ctl %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
    r = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
    printf("epoll_ctl bad %d %s\n", r, strerror(errno));
    if (send(c, "e", 1, 0) != 1)
        return 1;
    struct epoll_event out[4];
    r = epoll_wait(ep, out, 4, 1000);
    printf("epoll_wait %d %x %llx\n", r, out[0].events, (unsigned long long)out[0].data.u64);
    k = recv(s, rb, sizeof rb, 0);
    printf("recv %zd\n", k);

    int mf = memfd_create("kcalls", 0);
    off_t off = 0;
    if (write(mf, "file data", 9) != 9)
        return 1;
    k = sendfile(c, mf, &off, 9);
    printf("sendfile %zd %ld\n", k, (long)off);
    k = read(s, rb, sizeof rb);
    printf("read %zd %.*s\n", k, (int)k, rb);

    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    alarm_in(100000);
    r = poll(p, 1, -1);
    printf("poll %d %s\n", r, strerror(errno));
    alarm_in(100000);
    r = epoll_pwait(ep, out, 4, -1, NULL);
    printf("epoll_pwait %d %s\n", r, strerror(errno));
    sa.sa_flags = SA_RESTART; /* select is never restarted after a handler */
    sigaction(SIGALRM, &sa, NULL);
    alarm_in(100000);
    FD_SET(s, &rd);
    r = select(s + 1, &rd, NULL, NULL, NULL);
    printf("select %d %s\n", r, strerror(errno));
    /* a splice waiting on its pipe: the signal's handler runs, the call restarts */
    int pp[2];
    pthread_t pt;
    if (pipe(pp))
        return 1;
    pthread_create(&pt, NULL, piper, &pp[1]);
    alarm_in(100000);
    k = splice(pp[0], NULL, s, NULL, 4, 0);
    printf("splice %zd\n", k);
    pthread_join(pt, NULL);
    p[1].events = POLLIN;
    r = poll(&p[1], 1, 1000);
    k = read(c, rb, sizeof rb);
    printf("poll %d read %zd %.*s\n", r, k, (int)k, rb);
    close(pp[0]);
    close(pp[1]);

    pthread_t th;
    pthread_create(&th, NULL, peer, &c);
    pid_t kid = fork();
    if (kid == 0) {
        usleep(50000);
        _exit(0);
    }
    r = poll(p, 1, 5000);
    printf("poll %d %x\n", r, p[0].revents);
    void *tr;
    pthread_join(th, &tr);
    int st = 0;
    printf("thread %ld child %d\n", (long)tr, waitpid(kid, &st, 0) == kid ? st : -1);
    k = read(s, rb, sizeof rb);
    printf("read %zd\n", k);
    close(ep);
    close(mf);
    close(s);
    close(c);
    close(l);
    return 0;
}
