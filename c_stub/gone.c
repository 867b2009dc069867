/* gone.c - poll and epoll report a dead host's sockets as reset.
 *
 * When the stack host dies the kernel closes every S; an A whose S had nothing unread
 * then polls as a clean end of stream (POLLIN|POLLHUP), where Linux shows a reset
 * connection as POLLERR too (reads already fail with ECONNRESET: rn_rd_end).  Only a
 * hang-up without an error on a stream shim fd pays for the check (rn_host_gone: one
 * control request, failing at once on a dead host); other results are untouched. */
#include "internal.h"

void rn_poll_gone(struct pollfd *fds, nfds_t n, int r)
{
    if (r <= 0 || !g_enabled)
        return;
    for (nfds_t i = 0; i < n; i++) {
        struct pollfd *p = &fds[i]; /* the kernel just wrote revents: writable memory */
        if ((p->revents & (POLLHUP | POLLERR)) == POLLHUP && rn_epint_tracked(p->fd) &&
            rn_host_gone(p->fd))
            p->revents |= POLLERR;
    }
}

/* epoll gives the program's data word, not the fd: the interests recorded per stream
 * shim fd (epint.c) name the fds that epfd watches with it. */
void rn_epoll_gone(int epfd, struct epoll_event *evs, int r)
{
    if (r <= 0 || !g_enabled)
        return;
    for (int i = 0; i < r; i++) {
        if ((evs[i].events & (EPOLLHUP | EPOLLERR)) != EPOLLHUP)
            continue;
        for (int fd = rn_epint_find(epfd, evs[i].data.u64, 0); fd >= 0;
             fd = rn_epint_find(epfd, evs[i].data.u64, fd + 1)) {
            if (rn_epint_tracked(fd) && rn_host_gone(fd)) {
                evs[i].events |= EPOLLERR;
                break;
            }
        }
    }
}
