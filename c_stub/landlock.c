/* landlock.c - a Landlock sandbox stays a sandbox under the shim.
 *
 * landlock_create_ruleset / landlock_add_rule / landlock_restrict_self go to the kernel
 * unchanged (filesystem rules and everything else are the kernel's), but the bind and
 * connect of a shim TCP socket never reach the kernel, so its network rules
 * (LANDLOCK_ACCESS_NET_BIND_TCP / CONNECT_TCP) would not apply.  The stub asks the
 * kernel instead, in the calling thread (a Landlock domain is per thread): before a
 * shim TCP socket's bind or connect, the same call with the program's own address is
 * made on a probe socket of that family that is already listening (bound by listen's
 * autobind, which Landlock does not check), so the kernel runs Landlock's check exactly
 * (the domain's layers, port 0, the address checks it makes first), then fails without
 * any effect (bind: EINVAL, already bound; connect: EISCONN, a listener).  EACCES from
 * the probe is Landlock's refusal, returned as the program's; anything else lets the
 * call go on to the stack.  Probes are made only when the thread can be restricted:
 * no_new_privs is set (Landlock requires it without CAP_SYS_ADMIN, and it survives
 * exec) or this process tree saw landlock_restrict_self succeed (RN_ENV_LANDLOCK).
 * Landlock's abstract-unix scoping (LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET) is judged by
 * the kernel too, on a witness socket of the binding process (below); where it cannot
 * be judged, connect is refused with EPERM and one line on stderr, never allowed
 * silently.  Datagrams to stack names go natively to host-made sockets, which the
 * kernel refuses to a scoped sender (EPERM) whatever the domains: conservative.
 * Rulesets and restrictions are seen through syscall(); a program that makes the raw
 * system calls inline restricts its TCP all the same (the probes follow no_new_privs),
 * but its abstract-unix scoping is not seen.
 * The seccomp path's supervisor serves many threads, each in its own domain, from
 * threads of its own: for a caller in a domain of its run it points this thread's hook
 * at a supervisor thread restricted the same way (shim/seccomp_landlock.py), which runs
 * the probe, the scoping check and the witness's socket there (rn_ll_op).
 */
#include "internal.h"

#include <sys/prctl.h>

#define RN_ENV_LANDLOCK "ROCKETNET_LANDLOCK" /* "1": restricted, "2": abstract-unix scoped */
#define RN_LL_SCOPE_ABSTRACT_UNIX 1ULL      /* LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET */
#define RN_LL_RULESETS 16

static int g_ll_seen;   /* landlock_restrict_self succeeded in this process tree */
static int g_ll_scoped; /* ... with abstract-unix scoping */
/* rulesets with abstract-unix scoping this process made: fd and its inode */
static struct { int fd; ino_t ino; } g_ll_scoping[RN_LL_RULESETS];
static pthread_mutex_t g_ll_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set by the seccomp supervisor on a thread serving a caller of a restricted domain
 * (rn_sc_ll); tl_ll_scoped on its threads in a domain with abstract-unix scoping. */
static __thread rn_ll_hook_fn tl_ll_hook;
static __thread int tl_ll_scoped;

int rn_ll_maybe(void)
{
    return tl_ll_hook || g_ll_seen || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
}

static int rn_ll_tcp_here(const unsigned char *sa, socklen_t len, int is_connect);
static int rn_ll_abstract_here(int type, const unsigned char *sa, socklen_t len);

RN_EXPORT void rn_sc_ll(rn_ll_hook_fn hook, int scoped);
void rn_sc_ll(rn_ll_hook_fn hook, int scoped)
{
    tl_ll_hook = hook;
    tl_ll_scoped = scoped;
}

/* A check made for the caller on a supervisor thread in its domain (see the top). */
RN_EXPORT int rn_ll_op(int op, const void *sa, unsigned len, int arg);
int rn_ll_op(int op, const void *sa, unsigned len, int arg)
{
    switch (op) {
    case RN_LL_OP_TCP:
        return rn_ll_tcp_here(sa, (socklen_t)len, arg);
    case RN_LL_OP_ABSTRACT:
        return rn_ll_abstract_here(arg, sa, (socklen_t)len);
    case RN_LL_OP_WITNESS:
        return REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    }
    return 0;
}

/* EACCES if the calling thread's Landlock domain refuses this TCP bind (is_connect 0) or
 * connect to sa; 0 otherwise.  errno is preserved. */
int rn_ll_tcp(const unsigned char *sa, socklen_t len, int is_connect)
{
    if (tl_ll_hook)
        return tl_ll_hook(RN_LL_OP_TCP, sa, len, is_connect);
    return rn_ll_tcp_here(sa, len, is_connect);
}

static int rn_ll_tcp_here(const unsigned char *sa, socklen_t len, int is_connect)
{
    sa_family_t fam;
    if (len < sizeof fam)
        return 0;
    memcpy(&fam, sa, sizeof fam);
    if ((fam != AF_INET && fam != AF_INET6 && fam != AF_UNSPEC) || !rn_ll_maybe())
        return 0;
    if (fam == AF_UNSPEC && is_connect)
        return 0; /* a disconnect, which Landlock allows */
    int saved = errno;
    int p = REAL(socket)(fam == AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int denied = 0;
    if (p >= 0 && REAL(listen)(p, 0) == 0) {
        int r = is_connect ? REAL(connect)(p, (const struct sockaddr *)sa, len)
                           : REAL(bind)(p, (const struct sockaddr *)sa, len);
        denied = r < 0 && errno == EACCES;
    }
    if (p >= 0)
        REAL(close)(p);
    errno = saved;
    return denied ? EACCES : 0;
}

/* landlock_create_ruleset(attr, size, flags) returned fd: remember it if it scopes
 * abstract AF_UNIX sockets (struct landlock_ruleset_attr: fs, net, scoped: u64 each). */
void rn_ll_ruleset(long fd, const void *attr, size_t size, unsigned long flags)
{
    uint64_t a[3];
    if (fd < 0 || flags != 0 || attr == NULL || size < sizeof a || rn_copy_in(a, attr, sizeof a))
        return;
    if (!(a[2] & RN_LL_SCOPE_ABSTRACT_UNIX))
        return;
    pthread_mutex_lock(&g_ll_lock);
    for (int i = 0; i < RN_LL_RULESETS; i++) {
        int f = g_ll_scoping[i].fd;
        if (f <= 0 || rn_fd_ino(f) != g_ll_scoping[i].ino || f == (int)fd) {
            g_ll_scoping[i].fd = (int)fd;
            g_ll_scoping[i].ino = rn_fd_ino((int)fd);
            break;
        }
    }
    pthread_mutex_unlock(&g_ll_lock);
}

/* landlock_restrict_self(fd) succeeded: remember it for this process tree (fork
 * children share the flags, exec'd images read RN_ENV_LANDLOCK). */
void rn_ll_restricted(int fd)
{
    g_ll_seen = 1;
    pthread_mutex_lock(&g_ll_lock);
    for (int i = 0; i < RN_LL_RULESETS; i++)
        if (g_ll_scoping[i].fd == fd && fd > 0 && rn_fd_ino(fd) == g_ll_scoping[i].ino)
            g_ll_scoped = 1;
    pthread_mutex_unlock(&g_ll_lock);
    setenv(RN_ENV_LANDLOCK, g_ll_scoped ? "2" : "1", 1);
}

/* Load time: an exec'd image of a restricted process tree. */
void rn_ll_init(void)
{
    const char *v = getenv(RN_ENV_LANDLOCK);
    if (v && (v[0] == '1' || v[0] == '2')) {
        g_ll_seen = 1;
        g_ll_scoped = v[0] == '2';
    }
}

/* Abstract-unix scoping needs the domain of the process that made the socket holding
 * a name; the stack's sockets are the host's.  So the process that binds a stack
 * abstract name also makes a "witness": a kernel datagram socket of its own (hence of
 * its domain), bound to "\0rocketnet-<nonce>-w<hash of type and name>" and kept while
 * the bound fd is open (closed with it, inherited as it is).  A scoped process about to
 * connect to a stack abstract name sends an empty datagram to the witness: the kernel
 * answers with Landlock's own scoping decision (EPERM outside the domain; sent or
 * EAGAIN, a full queue, inside).  No witness (made elsewhere, or closed with a dup of
 * the fd still open): the domain cannot be judged, so EPERM after one line saying so. */
#define RN_LL_WITNESSES 64
static struct { int fd, witness; } g_ll_witness[RN_LL_WITNESSES];
static int g_ll_nwitness;

static socklen_t rn_ll_witness_name(struct sockaddr_un *w, int type, const unsigned char *sa,
                                    socklen_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    h = (h ^ (uint64_t)type) * 1099511628211ULL;
    for (socklen_t i = UNIX_PATH_OFF; i < len; i++)
        h = (h ^ sa[i]) * 1099511628211ULL;
    memset(w, 0, sizeof *w);
    w->sun_family = AF_UNIX;
    int n = snprintf(w->sun_path + 1, sizeof w->sun_path - 1, "rocketnet-%s-w%016llx", g_nonce,
                     (unsigned long long)h);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

void rn_ll_witness(int fd, const unsigned char *sa, socklen_t len)
{
    struct sockaddr_un w;
    socklen_t wl = rn_ll_witness_name(&w, unix_type(fd), sa, len);
    int fdfl = fcntl(fd, F_GETFD);
    int k = tl_ll_hook ? tl_ll_hook(RN_LL_OP_WITNESS, NULL, 0, 0)
                       : REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (k < 0)
        return;
    if (REAL(bind)(k, (const struct sockaddr *)&w, wl) < 0) {
        REAL(close)(k);
        return;
    }
    k = rn_move_high(k);
    if (!(fdfl >= 0 && (fdfl & FD_CLOEXEC)))
        fcntl(k, F_SETFD, 0); /* inherited over exec as the bound fd is */
    pthread_mutex_lock(&g_ll_lock);
    for (int i = 0; i < RN_LL_WITNESSES; i++) {
        if (g_ll_witness[i].witness <= 0) {
            g_ll_witness[i].fd = fd;
            g_ll_witness[i].witness = k;
            __atomic_add_fetch(&g_ll_nwitness, 1, __ATOMIC_RELAXED);
            k = -1;
            break;
        }
    }
    pthread_mutex_unlock(&g_ll_lock);
    if (k >= 0)
        REAL(close)(k); /* table full: connectors of this name will be refused, not let in */
}

void rn_ll_unwitness(int fd)
{
    if (__atomic_load_n(&g_ll_nwitness, __ATOMIC_RELAXED) == 0)
        return;
    pthread_mutex_lock(&g_ll_lock);
    for (int i = 0; i < RN_LL_WITNESSES; i++) {
        if (g_ll_witness[i].witness > 0 && g_ll_witness[i].fd == fd) {
            REAL(close)(g_ll_witness[i].witness);
            g_ll_witness[i].witness = 0;
            __atomic_sub_fetch(&g_ll_nwitness, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&g_ll_lock);
}

/* Before a connect of a socket of this type to the stack abstract name sa: 0, or EPERM
 * when the caller is abstract-unix scoped and the name's socket is outside its domain
 * (or the domain cannot be judged: then with one line on stderr). */
int rn_ll_abstract(int type, const unsigned char *sa, socklen_t len)
{
    if (tl_ll_hook)
        return tl_ll_hook(RN_LL_OP_ABSTRACT, sa, len, type);
    return rn_ll_abstract_here(type, sa, len);
}

static int rn_ll_abstract_here(int type, const unsigned char *sa, socklen_t len)
{
    if (!g_ll_scoped && !tl_ll_scoped)
        return 0;
    struct sockaddr_un w;
    socklen_t wl = rn_ll_witness_name(&w, type, sa, len);
    int saved = errno;
    int p = REAL(socket)(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ssize_t r = p < 0 ? -1 : REAL(sendto)(p, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL,
                                          (const struct sockaddr *)&w, wl);
    int e = errno;
    if (p >= 0)
        REAL(close)(p);
    errno = saved;
    if (r == 0 || e == EAGAIN)
        return 0; /* the kernel let us reach it: inside our domain */
    if (e == EPERM)
        return EPERM;
    static int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) {
        static const char msg[] =
            "rocketnet: Landlock abstract-unix scoping: the domain of a stack abstract AF_UNIX "
            "socket cannot be judged (no witness), so this process may not connect (EPERM)\n";
        rn_write_all(2, msg, sizeof msg - 1);
    }
    return EPERM;
}
