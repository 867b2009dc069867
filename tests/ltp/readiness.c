/* readiness: poll, ppoll, select, pselect and epoll (level and edge triggered) on a
 * mix of a pipe and shim TCP/UDP sockets; a signal without SA_RESTART interrupts a
 * blocking recv/accept/connect (EINTR), with SA_RESTART the call goes on; SO_RCVTIMEO
 * and SO_SNDTIMEO end blocking calls with EAGAIN (only whether they timed out is
 * printed).  Prints return values, errno names, readiness bits and bytes only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static int g_pipe[2], g_c, g_s, g_u;

static void show_poll(const char *what, struct pollfd *p, int n, int r)
{
    show(what, r);
    for (int i = 0; i < n; i++)
        printf("  [%d] revents%s%s%s%s\n", i, p[i].revents & POLLIN ? " IN" : "",
               p[i].revents & POLLOUT ? " OUT" : "", p[i].revents & POLLERR ? " ERR" : "",
               p[i].revents & POLLHUP ? " HUP" : "");
}

static void fill_pollfds(struct pollfd *p)
{
    int fds[4] = {g_pipe[0], g_c, g_s, g_u};
    for (int i = 0; i < 4; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN | POLLOUT;
        p[i].revents = 0;
    }
    p[0].events = POLLIN;
}

static void sets(const char *what, int r, fd_set *rd, fd_set *wr)
{
    int fds[4] = {g_pipe[0], g_c, g_s, g_u};
    show(what, r);
    for (int i = 0; i < 4; i++)
        printf("  [%d] read %d write %d\n", i, FD_ISSET(fds[i], rd) != 0,
               FD_ISSET(fds[i], wr) != 0);
}

static void make_sets(fd_set *rd, fd_set *wr)
{
    int fds[4] = {g_pipe[0], g_c, g_s, g_u};
    FD_ZERO(rd);
    FD_ZERO(wr);
    for (int i = 0; i < 4; i++) {
        FD_SET(fds[i], rd);
        if (i)
            FD_SET(fds[i], wr);
    }
}

static void all_readiness(const char *when)
{
    struct pollfd p[4];
    printf("== %s\n", when);
    fill_pollfds(p);
    show_poll("poll", p, 4, poll(p, 4, 0));
    fill_pollfds(p);
    struct timespec ts = {0, 0};
    show_poll("ppoll", p, 4, ppoll(p, 4, &ts, NULL));
    fd_set rd, wr;
    int maxfd = g_u > g_s ? g_u : g_s;
    maxfd = maxfd > g_c ? maxfd : g_c;
    make_sets(&rd, &wr);
    struct timeval tv = {0, 0};
    sets("select", select(maxfd + 1, &rd, &wr, NULL, &tv), &rd, &wr);
    make_sets(&rd, &wr);
    sets("pselect", pselect(maxfd + 1, &rd, &wr, NULL, &ts, NULL), &rd, &wr);
}

static void wait_in(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, 3000);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void timer_ms(int ms)
{
    struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void handler(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sockaddr_in a;
    int l = loopback_listener(&a, 4);
    pipe(g_pipe);
    g_c = socket(AF_INET, SOCK_STREAM, 0);
    connect(g_c, (struct sockaddr *)&a, sizeof a);
    g_s = accept(l, NULL, NULL);
    g_u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in ua = a;
    ua.sin_port = 0;
    bind(g_u, (struct sockaddr *)&ua, sizeof ua);
    socklen_t ul = sizeof ua;
    getsockname(g_u, (struct sockaddr *)&ua, &ul);
    all_readiness("nothing to read");

    write(g_pipe[1], "p", 1);
    send(g_s, "tcp", 3, 0);
    sendto(g_u, "udp", 3, 0, (struct sockaddr *)&ua, sizeof ua);
    wait_in(g_c);
    wait_in(g_u);
    all_readiness("something to read on each");

    /* epoll, level triggered: reported while readable; edge triggered: once per arrival */
    char buf[64];
    int lt = epoll_create1(0), et = epoll_create1(EPOLL_CLOEXEC);
    int fds[4] = {g_pipe[0], g_c, g_s, g_u};
    for (int i = 0; i < 4; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(lt, EPOLL_CTL_ADD, fds[i], &ev);
        ev.events = EPOLLIN | EPOLLET;
        epoll_ctl(et, EPOLL_CTL_ADD, fds[i], &ev);
    }
    struct epoll_event evs[8];
    for (int round = 0; round < 2; round++) {
        int n = epoll_wait(lt, evs, 8, 0);
        unsigned mask = 0;
        for (int i = 0; i < n; i++)
            mask |= 1u << evs[i].data.u32;
        printf("epoll LT round %d: %d ready, mask 0x%x\n", round, n, mask);
        n = epoll_wait(et, evs, 8, 0);
        mask = 0;
        for (int i = 0; i < n; i++)
            mask |= 1u << evs[i].data.u32;
        printf("epoll ET round %d: %d ready, mask 0x%x\n", round, n, mask);
    }
    show("read pipe", read(g_pipe[0], buf, sizeof buf));
    show("recv tcp", recv(g_c, buf, sizeof buf, 0));
    show("recv udp", recv(g_u, buf, sizeof buf, 0));
    printf("epoll LT after reading: %d ready\n", epoll_wait(lt, evs, 8, 0));
    send(g_s, "more", 4, 0);
    wait_in(g_c);
    int n = epoll_wait(et, evs, 8, 0);
    printf("epoll ET after a new arrival: %d ready, fd index %d\n", n,
           n > 0 ? (int)evs[0].data.u32 : -1);
    printf("epoll ET again: %d ready\n", epoll_wait(et, evs, 8, 0));
    struct epoll_event mod = {.events = EPOLLOUT, .data.u32 = 1};
    show("epoll_ctl MOD tcp EPOLLOUT", epoll_ctl(lt, EPOLL_CTL_MOD, g_c, &mod));
    n = epoll_wait(lt, evs, 8, 0);
    printf("epoll LT with EPOLLOUT: %d ready\n", n);
    show("epoll_ctl DEL tcp", epoll_ctl(lt, EPOLL_CTL_DEL, g_c, NULL));
    show("epoll_ctl DEL tcp again", epoll_ctl(lt, EPOLL_CTL_DEL, g_c, NULL));
    recv(g_c, buf, sizeof buf, 0);
    close(lt);
    close(et);

    /* EINTR without SA_RESTART */
    handler(0);
    timer_ms(100);
    show("recv interrupted", recv(g_c, buf, sizeof buf, 0));
    timer_ms(100);
    show("recvfrom udp interrupted", recvfrom(g_u, buf, sizeof buf, 0, NULL, NULL));
    timer_ms(100);
    show("accept interrupted", accept(l, NULL, NULL));
    /* SA_RESTART: the recv goes on until data comes */
    handler(1);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(300000);
        send(g_s, "late", 4, 0);
        _exit(0);
    }
    timer_ms(100);
    show("recv with SA_RESTART (restarted, then data)", recv(g_c, buf, sizeof buf, 0));
    waitpid(pid, NULL, 0);
    timer_ms(100);
    show("accept with SA_RESTART and SO_RCVTIMEO", ({
        struct timeval tv = {0, 400000};
        setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        accept(l, NULL, NULL);
    }));
    handler(0);

    /* SO_RCVTIMEO / SO_SNDTIMEO */
    struct timeval tv = {0, 200000};
    show("setsockopt SO_RCVTIMEO", setsockopt(g_c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    struct timeval got = {0, 0};
    socklen_t gl = sizeof got;
    show("getsockopt SO_RCVTIMEO", getsockopt(g_c, SOL_SOCKET, SO_RCVTIMEO, &got, &gl));
    printf("  %ld.%06ld\n", (long)got.tv_sec, (long)got.tv_usec);
    show("recv times out", recv(g_c, buf, sizeof buf, 0));
    show("read times out", read(g_c, buf, sizeof buf));
    setsockopt(g_u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    show("recv udp times out", recv(g_u, buf, sizeof buf, 0));
    show("setsockopt SO_SNDTIMEO", setsockopt(g_c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv));
    static char big[65536];
    long total = 0, r;
    while ((r = send(g_c, big, sizeof big, 0)) > 0 && total < (64L << 20))
        total += r;
    printf("send until the peer's window and buffers are full: ");
    show("then", r);
    close(g_c);
    close(g_s);
    close(g_u);
    close(l);
    return 0;
}
