/* landlock_net.c: Landlock's TCP bind/connect rules (ABI >= 4) and abstract-unix scoping
 * (ABI >= 6), each in a forked child that restricts itself: what is allowed, what is
 * EACCES / EPERM, the checks Landlock makes first (EINVAL), and that UDP is untouched.
 * Under the shim the same answers must come (c_stub/landlock.c).  Prints one line
 * "landlock: unavailable" when the kernel lacks it. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

struct ll_ruleset_attr { uint64_t fs, net, scoped; };
struct ll_net_port { uint64_t allowed; uint64_t port; } __attribute__((packed));
#define LL_BIND_TCP 1ULL
#define LL_CONNECT_TCP 2ULL
#define LL_RULE_NET_PORT 2
#define LL_SCOPE_ABSTRACT_UNIX 1ULL

static long ll_abi(void)
{
    return syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL);
}

/* Restrict the calling process: handled accesses, then rules (port, access) pairs. */
static int ll_restrict(uint64_t net, uint64_t scoped, const struct ll_net_port *rules, int n)
{
    struct ll_ruleset_attr attr = {0, net, scoped};
    int fd = (int)syscall(SYS_landlock_create_ruleset, &attr,
                          scoped ? sizeof attr : 2 * sizeof(uint64_t), 0UL);
    if (fd < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT, &rules[i], 0UL) < 0)
            return -1;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    long r = syscall(SYS_landlock_restrict_self, fd, 0UL);
    close(fd);
    return (int)r;
}

static unsigned short free_port(void)
{
    struct sockaddr_in a;
    int s = loopback_listener(&a, 1);
    close(s);
    return ntohs(a.sin_port);
}

static void tcp_child(unsigned short bind_ok, unsigned short connect_ok)
{
    struct ll_net_port rules[2] = {{LL_BIND_TCP, bind_ok}, {LL_CONNECT_TCP, connect_ok}};
    show("restrict(bind one port, connect one port)",
         ll_restrict(LL_BIND_TCP | LL_CONNECT_TCP, 0, rules, 2));
    struct sockaddr_in a = v4("127.0.0.1", bind_ok);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    show("bind allowed port", bind(s, (struct sockaddr *)&a, sizeof a));
    show("listen", listen(s, 4));
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in b = v4("127.0.0.1", (unsigned short)(bind_ok + 1));
    show("bind another port", bind(t, (struct sockaddr *)&b, sizeof b));
    struct sockaddr_in z = v4("127.0.0.1", 0);
    show("bind port 0", bind(t, (struct sockaddr *)&z, sizeof z));
    show("bind short addrlen", bind(t, (struct sockaddr *)&a, sizeof a - 1));
    struct sockaddr_in6 a6;
    memset(&a6, 0, sizeof a6);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(bind_ok + 2);
    a6.sin6_addr = in6addr_loopback;
    int t6 = socket(AF_INET6, SOCK_STREAM, 0);
    show("bind ipv6 another port", bind(t6, (struct sockaddr *)&a6, sizeof a6));
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = v4("127.0.0.1", connect_ok);
    show("connect allowed port", connect(c, (struct sockaddr *)&to, sizeof to));
    int d = socket(AF_INET, SOCK_STREAM, 0);
    show("connect bind-only port", connect(d, (struct sockaddr *)&a, sizeof a));
    struct sockaddr un = {AF_UNSPEC, {0}};
    show("connect AF_UNSPEC", connect(d, &un, sizeof un));
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    show("udp bind another port", bind(u, (struct sockaddr *)&b, sizeof b));
    show("udp connect bind-only port", connect(u, (struct sockaddr *)&a, sizeof a));
    exit(0);
}

static socklen_t abstract_addr(struct sockaddr_un *u, const char *name)
{
    memset(u, 0, sizeof *u);
    u->sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(u->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void scope_child(const struct sockaddr_un *outside, socklen_t ol)
{
    show("restrict(scope abstract unix)", ll_restrict(0, LL_SCOPE_ABSTRACT_UNIX, NULL, 0));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    show("connect abstract listener made outside", connect(c, (const struct sockaddr *)outside,
                                                           ol));
    exit(0);
}

static void run(void (*child)(void))
{
    pid_t p = fork();
    if (p == 0) {
        child();
        exit(0);
    }
    int st;
    waitpid(p, &st, 0);
}

static unsigned short g_bind_ok;
static struct sockaddr_in g_conn;
static struct sockaddr_un g_outside;
static socklen_t g_outside_len;

static void tcp_case(void) { tcp_child(g_bind_ok, ntohs(g_conn.sin_port)); }
static void scope_case(void) { scope_child(&g_outside, g_outside_len); }

int main(void)
{
    long abi = ll_abi();
    if (abi < 4) {
        printf("landlock: unavailable\n");
        return 0;
    }
    int l = loopback_listener(&g_conn, 8);
    g_bind_ok = free_port();
    run(tcp_case);
    if (abi >= 6) {
        char name[64];
        snprintf(name, sizeof name, "rn-landlock-%d", (int)getpid());
        g_outside_len = abstract_addr(&g_outside, name);
        int o = socket(AF_UNIX, SOCK_STREAM, 0);
        bind(o, (struct sockaddr *)&g_outside, g_outside_len);
        listen(o, 4);
        run(scope_case);
        close(o);
    }
    close(l);
    return 0;
}
