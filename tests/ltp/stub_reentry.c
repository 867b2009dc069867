/* stub_reentry: socket calls from a signal handler that interrupts socket calls, and
 * fork while another thread is inside socket calls.  Linux has no user-space locks
 * here: every call returns, every child exits.  (A preload library whose locks a
 * handler or a forked child can find taken deadlocks instead.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static int g_udp;
static struct sockaddr_in g_to[8];
static volatile sig_atomic_t g_handled, g_stop;
static timer_t g_timer;
/* One shot, re-armed at the end of each handler: with a periodic timer a call slower
 * than the interval (an emulated machine, a slower path to the stack) has the next
 * signal pending when the handler returns, so main never runs again.  The handler
 * still interrupts main's socket calls 200 us after the previous one ended. */
static const struct itimerspec g_shot = {{0, 0}, {0, 200000}};

static void on_alarm(int sig)
{
    (void)sig;
    int v = 0;
    socklen_t vl = sizeof v;
    int e = errno;
    getsockopt(g_udp, SOL_SOCKET, SO_RCVBUF, &v, &vl);
    sendto(g_udp, "h", 1, MSG_DONTWAIT, (struct sockaddr *)&g_to[g_handled % 8], sizeof g_to[0]);
    g_handled++;
    timer_settime(g_timer, 0, &g_shot, NULL); /* async-signal-safe (POSIX) */
    errno = e;
}

static void *sender(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    for (unsigned i = 0; !g_stop; i++)
        sendto(s, "t", 1, MSG_DONTWAIT, (struct sockaddr *)&g_to[i % 8], sizeof g_to[0]);
    close(s);
    return NULL;
}

int main(void)
{
    int rx[8];
    for (int i = 0; i < 8; i++) {
        rx[i] = socket(AF_INET, SOCK_DGRAM, 0);
        g_to[i] = v4("127.0.0.1", 0);
        bind(rx[i], (struct sockaddr *)&g_to[i], sizeof g_to[i]);
        socklen_t l = sizeof g_to[i];
        getsockname(rx[i], (struct sockaddr *)&g_to[i], &l);
        int big = 1 << 20;
        setsockopt(rx[i], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    }
    g_udp = socket(AF_INET, SOCK_DGRAM, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGALRM;
    timer_create(CLOCK_MONOTONIC, &ev, &g_timer);
    timer_settime(g_timer, 0, &g_shot, NULL);
    int calls = 0;
    for (int i = 0; i < 3000; i++) {
        int v = 0;
        socklen_t vl = sizeof v;
        if (getsockopt(g_udp, SOL_SOCKET, SO_SNDBUF, &v, &vl) == 0)
            calls++;
        sendto(g_udp, "m", 1, MSG_DONTWAIT, (struct sockaddr *)&g_to[i % 8], sizeof g_to[0]);
    }
    timer_delete(g_timer); /* a handler running after this re-arms nothing: EINVAL */
    printf("main calls done: %d, handler ran: %s\n", calls, g_handled > 0 ? "yes" : "no");

    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
    int exited = 0;
    for (int i = 0; i < 40; i++) {
        pid_t p = fork();
        if (p == 0) {
            int s = socket(AF_INET, SOCK_DGRAM, 0);
            struct sockaddr_in to = g_to[(i + 3) % 8];
            sendto(s, "c", 1, 0, (struct sockaddr *)&to, sizeof to);
            _exit(0);
        }
        int st = 0;
        if (p > 0 && waitpid(p, &st, 0) == p && WIFEXITED(st))
            exited++;
    }
    g_stop = 1;
    pthread_join(t, NULL);
    printf("children exited: %d\n", exited);
    return 0;
}
