/* tcp_closed_listener: connect right after the listener was closed, many times, blocking
 * and non-blocking: Linux refuses every one (ECONNREFUSED), never accepts then resets. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>

#include "conformance.h"

int main(void)
{
    int refused = 0, other = 0, nb_refused = 0, nb_other = 0;
    for (int i = 0; i < 40; i++) {
        struct sockaddr_in a;
        int l = loopback_listener(&a, 4);
        close(l);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, sizeof a) < 0 && errno == ECONNREFUSED)
            refused++;
        else
            other++;
        close(c);

        l = loopback_listener(&a, 4);
        close(l);
        c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        int r = connect(c, (struct sockaddr *)&a, sizeof a);
        struct pollfd p = {c, POLLOUT, 0};
        int e = 0;
        socklen_t el = sizeof e;
        if (r < 0 && errno == EINPROGRESS && poll(&p, 1, 3000) == 1)
            getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
        else if (r < 0)
            e = errno;
        if (e == ECONNREFUSED)
            nb_refused++;
        else
            nb_other++;
        close(c);
    }
    printf("blocking: refused %d, other %d\n", refused, other);
    printf("non-blocking: refused %d, other %d\n", nb_refused, nb_other);
    return 0;
}
