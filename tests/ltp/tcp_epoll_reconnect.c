/* tcp_epoll_reconnect: a non-blocking TCP socket in an epoll set before connect, whose
 * connect is refused and which then connects again (what asyncio does on a retry): the
 * epoll interest belongs to the open file and survives both connects (EPOLL_CTL_MOD
 * works, EPOLLOUT arrives). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "conformance.h"

static void wait_show(const char *what, int ep)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    int n = epoll_wait(ep, &ev, 1, 3000);
    show(what, n);
    if (n == 1)
        printf("%-44s   events=%#x data=%llu\n", what, ev.events,
               (unsigned long long)ev.data.u64);
}

int main(void)
{
    struct sockaddr_in la;
    int l = loopback_listener(&la, 4);
    struct sockaddr_in closed = la;
    int l2 = loopback_listener(&closed, 4);
    close(l2); /* nothing listens there any more */

    int ep = epoll_create1(0);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 7};
    show("EPOLL_CTL_ADD before connect", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
    show("connect to a closed port", connect(s, (struct sockaddr *)&closed, sizeof closed));
    wait_show("epoll_wait (refused)", ep);
    int e = 0;
    socklen_t el = sizeof e;
    show("SO_ERROR", getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el));
    printf("%-44s   %s\n", "SO_ERROR value", e ? strerrorname_np(e) : "0");
    ev.events = 0;
    show("EPOLL_CTL_MOD (quiet)", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));

    /* Linux: the first connect after the failure reports it (ECONNABORTED once the
     * error was read) and disconnects; the next one starts a connection */
    show("connect again", connect(s, (struct sockaddr *)&la, sizeof la));
    show("connect once more", connect(s, (struct sockaddr *)&la, sizeof la));
    ev.events = EPOLLOUT;
    ev.data.u64 = 8;
    show("EPOLL_CTL_MOD after reconnect", epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev));
    wait_show("epoll_wait (connected)", ep);
    el = sizeof e;
    show("SO_ERROR", getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el));
    printf("%-44s   %s\n", "SO_ERROR value", e ? strerrorname_np(e) : "0");
    show("send", send(s, "ping", 4, MSG_NOSIGNAL));
    int a = accept(l, NULL, NULL);
    char buf[8];
    readable(a);
    show("recv on the accepted side", recv(a, buf, sizeof buf, 0));

    /* a fresh socket in the epoll set before its first connect */
    int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct epoll_event ev2 = {.events = EPOLLOUT | EPOLLET, .data.u64 = 9};
    show("EPOLL_CTL_ADD fresh socket", epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev2));
    show("EPOLL_CTL_DEL first socket", epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL));
    show("connect fresh socket", connect(t, (struct sockaddr *)&la, sizeof la));
    wait_show("epoll_wait (fresh connected)", ep);
    show("EPOLL_CTL_DEL fresh socket", epoll_ctl(ep, EPOLL_CTL_DEL, t, NULL));
    return 0;
}
