/* landlock_inherit.c: whose Landlock TCP rules hold where: a child made before its
 * parent restricts itself keeps its own domain; threads and children made after, and an
 * image exec'd after, are in the parent's; a second layer adds to the first; a thread
 * that restricts itself beside others is alone in its new domain.  Under the shim the
 * same answers must come on both paths (c_stub/landlock.c, shim/seccomp_landlock.py).
 * Prints one line "landlock: unavailable" when the kernel lacks TCP rules (ABI < 4). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

struct ll_ruleset_attr { uint64_t fs, net; };
struct ll_net_port { uint64_t allowed; uint64_t port; } __attribute__((packed));
#define LL_BIND_TCP 1ULL
#define LL_CONNECT_TCP 2ULL
#define LL_RULE_NET_PORT 2

static unsigned short g_free, g_other, g_conn;

/* Restrict the calling thread: handled accesses, then one rule (access, port) if any. */
static long ll_restrict(uint64_t handled, uint64_t access, unsigned short port)
{
    struct ll_ruleset_attr attr = {0, handled};
    int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0UL);
    if (fd < 0)
        return -1;
    struct ll_net_port rule = {access, port};
    if (access && syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT, &rule, 0UL) < 0)
        return -1;
    long r = syscall(SYS_landlock_restrict_self, fd, 0UL);
    close(fd);
    return r;
}

/* bind (is_connect 0) or connect a fresh TCP socket to 127.0.0.1:port */
static long tcp_to(unsigned short port, int is_connect)
{
    struct sockaddr_in a = v4("127.0.0.1", port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    long r = is_connect ? connect(s, (struct sockaddr *)&a, sizeof a)
                        : bind(s, (struct sockaddr *)&a, sizeof a);
    close(s);
    return r;
}

static long bind_port(unsigned short port) { return tcp_to(port, 0); }
static long connect_port(unsigned short port) { return tcp_to(port, 1); }

static unsigned short free_port(void)
{
    struct sockaddr_in a;
    int s = loopback_listener(&a, 1);
    close(s);
    return ntohs(a.sin_port);
}

static void *bind_other(void *what)
{
    show(what, bind_port(g_other));
    return NULL;
}

static void *restrict_alone(void *unused)
{
    (void)unused;
    show("thread: restrict(no bind at all)", ll_restrict(LL_BIND_TCP, 0, 0));
    show("thread: bind allowed port", bind_port(g_free));
    return NULL;
}

static void wait_child(pid_t p)
{
    int st;
    waitpid(p, &st, 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "bind") == 0) { /* the exec'd image */
        show("exec'd after restrict: bind other port", bind_port((unsigned short)atoi(argv[2])));
        return 0;
    }
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL) < 4) {
        printf("landlock: unavailable\n");
        return 0;
    }
    struct sockaddr_in la;
    int l = loopback_listener(&la, 8);
    g_conn = ntohs(la.sin_port);
    g_free = free_port();
    g_other = free_port();
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);

    int go[2];
    if (pipe(go) != 0)
        return 1;
    pid_t before = fork();
    if (before == 0) {
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) == 1)
            show("child made before restrict: bind other port", bind_port(g_other));
        _exit(0);
    }
    close(go[0]);
    show("restrict(bind one port)", ll_restrict(LL_BIND_TCP, LL_BIND_TCP, g_free));
    if (write(go[1], "x", 1) != 1)
        return 1;
    close(go[1]);
    wait_child(before);
    show("bind allowed port", bind_port(g_free));
    show("bind other port", bind_port(g_other));
    pthread_t t;
    pthread_create(&t, NULL, bind_other, "thread made after: bind other port");
    pthread_join(t, NULL);
    pid_t after = fork();
    if (after == 0) {
        show("child made after: bind other port", bind_port(g_other));
        _exit(0);
    }
    wait_child(after);
    pid_t img = fork();
    if (img == 0) {
        char port[16];
        snprintf(port, sizeof port, "%u", g_other);
        execl("/proc/self/exe", argv[0], "bind", port, (char *)NULL);
        _exit(127);
    }
    wait_child(img);

    show("restrict(connect one port)", ll_restrict(LL_CONNECT_TCP, LL_CONNECT_TCP, g_conn));
    show("connect allowed port", connect_port(g_conn));
    show("connect other port", connect_port(g_other));
    show("bind allowed port (first layer)", bind_port(g_free));
    show("bind other port (first layer)", bind_port(g_other));

    pthread_create(&t, NULL, restrict_alone, NULL);
    pthread_join(t, NULL);
    show("main after the thread's restrict: bind allowed port", bind_port(g_free));
    close(l);
    return 0;
}
