/* core.c - what every unit of the stub stands on: libc's functions, resolved once at
 * load (rn_resolve_all, as torsocks does), the process's state and locks, the per-fd
 * cache, safe copies of user memory, and load time (the constructor). */
#include "internal.h"

#include <sys/auxv.h>

/* ------------------------------------------------------------------------ */
/* Real functions                                                            */

static const char *const rn_real_names[R_COUNT] = {
    "socket", "bind", "listen", "connect", "accept", "accept4", "getsockname",
    "getpeername", "getsockopt", "setsockopt", "shutdown", "send", "recv", "sendto",
    "recvfrom", "sendmsg", "recvmsg", "read", "write", "readv", "writev", "close",
    "syscall", "socketpair",
};
void *rn_real_ptr[R_COUNT];

/* rn_resolve (internal.h) before rn_resolve_all: an interposer called before our
 * constructor, or rn_resolve_all itself */
void *rn_resolve_slow(int i)
{
    void *p = dlsym(RTLD_NEXT, rn_real_names[i]);
    if (p == NULL) /* should not happen; fall back to the default lookup */
        p = dlsym(RTLD_DEFAULT, rn_real_names[i]);
    __atomic_store_n(&rn_real_ptr[i], p, __ATOMIC_RELEASE);
    return p;
}

void *rn_sym(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (RN_UNLIKELY(p == NULL)) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}

static void rn_resolve_all(void)
{
    for (int i = 0; i < R_COUNT; i++)
        rn_resolve(i);
    static const struct {
        void **slot;
        const char *name;
    } more[] = {
        {&g_real_recvmmsg, "recvmmsg"}, {&g_real_sendmmsg, "sendmmsg"}, {&g_real_dup, "dup"},
        {&g_real_dup2, "dup2"}, {&g_real_dup3, "dup3"}, {&g_real_ioctl, "ioctl"},
        {&g_real_nametoindex, "if_nametoindex"}, {&g_real_indextoname, "if_indextoname"},
        {&g_real_nameindex, "if_nameindex"}, {&g_real_getifaddrs, "getifaddrs"},
        {&g_real_fcntl, "fcntl"}, {&g_real_poll, "poll"}, {&g_real_ppoll, "ppoll"},
        {&g_real_select, "select"}, {&g_real_pselect, "pselect"},
        {&g_real_epoll_ctl, "epoll_ctl"}, {&g_real_epoll_wait, "epoll_wait"},
        {&g_real_epoll_pwait, "epoll_pwait"}, {&g_real_sendfile, "sendfile"},
        {&g_real_splice, "splice"}, {&g_real_closefrom, "closefrom"},
#ifdef __GLIBC__
        {&g_real__exit, "_exit"},
#endif
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        rn_sym(more[i].slot, more[i].name);
}

/* ------------------------------------------------------------------------ */
/* Global state (described in internal.h)                                    */

int g_enabled;
char g_sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
int g_trace_on;
char g_trace_path[4096];

int g_adopt_fd = -1;
pid_t g_adopt_pid;
ino_t g_adopt_ino;

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
int g_ctl_fd = -1;
int g_ctl_touched;
pid_t g_ctl_pid;
ino_t g_ctl_ino;
int g_ctl_adopted;
pid_t g_host_pid;
int g_oob_quirks;
int g_tclass_sock;
int g_dialer_fd = -1;
ino_t g_dialer_ino;
char g_nonce[RN_NONCE_LEN + 1];
pid_t g_warned_pid;

pthread_mutex_t g_tlock = PTHREAD_MUTEX_INITIALIZER;

static __thread unsigned t_held; /* the RN_L_* bits of the locks this thread holds */

int rn_guard(pthread_mutex_t *m, unsigned bit)
{
    if (__atomic_load_n(&t_held, __ATOMIC_RELAXED) & bit)
        return -1;
    __atomic_fetch_or(&t_held, bit, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(m);
    return 0;
}

void rn_unguard(pthread_mutex_t *m, unsigned bit)
{
    pthread_mutex_unlock(m);
    __atomic_fetch_and(&t_held, ~bit, __ATOMIC_SEQ_CST);
}

__thread int g_acting_pid, g_acting_slot, g_acting_fd;

struct rn_fdent g_cache[RN_CACHE_N];
int g_last_fd = -1;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

void rn_write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = REAL(write)(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

/* Safe access to (possibly bad) user memory, like the kernel's copy_from_user:
 * process_vm_readv/writev on ourselves.  Where those are forbidden (seccomp, e.g.
 * container default profiles: EPERM/ENOSYS), a private pipe does the same job: write()
 * from / read() into the user buffer fails with EFAULT instead of crashing. */
static int g_vm_broken;
static pthread_mutex_t g_plock = PTHREAD_MUTEX_INITIALIZER;
static int g_pipe[2] = {-1, -1};
static pid_t g_pipe_pid;
static ino_t g_pipe_ino; /* both ends': a pipe is one inode */

/* Whether both ends are still our pipe: a program may close them (close_range over
 * every fd, as fdops does) and may open something else at their numbers. */
static int rn_pipe_ours(void)
{
    struct stat a, b;
    return fstat(g_pipe[0], &a) == 0 && fstat(g_pipe[1], &b) == 0 && S_ISFIFO(a.st_mode) &&
           a.st_ino == g_pipe_ino && b.st_ino == g_pipe_ino && a.st_dev == b.st_dev;
}

static int rn_pipe_copy(void *dst, const void *src, size_t n)
{
    int ok = -1;
    if (rn_guard(&g_plock, RN_L_PIPE) < 0) { /* re-entered: the pipe is in use */
        errno = EFAULT;
        return -1;
    }
    if (g_pipe[0] >= 0 && g_pipe_pid == rn_getpid() && !rn_pipe_ours())
        g_pipe[0] = g_pipe[1] = -1; /* closed or replaced behind our back: forget, no close */
    if (g_pipe[0] < 0 || g_pipe_pid != rn_getpid()) {
        int p[2];
        struct stat st;
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
            g_pipe[0] = rn_move_high(p[0]);
            g_pipe[1] = rn_move_high(p[1]);
            g_pipe_pid = rn_getpid();
            g_pipe_ino = fstat(g_pipe[0], &st) == 0 ? st.st_ino : 0;
        }
    }
    if (g_pipe[0] >= 0) {
        ssize_t w = REAL(write)(g_pipe[1], src, n);
        if (w == (ssize_t)n) {
            ssize_t r = REAL(read)(g_pipe[0], dst, n);
            ok = r == (ssize_t)n ? 0 : -1;
            if (r < 0) { /* drain what the failed read left */
                char scratch[512];
                size_t left = n;
                while (left > 0) {
                    ssize_t k = REAL(read)(g_pipe[0], scratch,
                                           left < sizeof scratch ? left : sizeof scratch);
                    if (k <= 0)
                        break;
                    left -= (size_t)k;
                }
            }
        } else if (w > 0) { /* partial: drain it */
            char scratch[512];
            while (REAL(read)(g_pipe[0], scratch, sizeof scratch) > 0) {
            }
        }
    }
    rn_unguard(&g_plock, RN_L_PIPE);
    if (ok < 0)
        errno = EFAULT;
    return ok;
}

/* process_vm_readv (out 0) or writev (out 1) of total bytes between our iovecs and the
 * user's: 1 done, -1 a bad address (EFAULT), 0 forbidden here (use the pipe). */
static int rn_vm_copy(int out, const struct iovec *mine, const struct iovec *user,
                      unsigned long cnt, size_t total)
{
    if (g_vm_broken)
        return 0;
    ssize_t k = out ? process_vm_writev(rn_getpid(), mine, cnt, user, cnt, 0)
                    : process_vm_readv(rn_getpid(), mine, cnt, user, cnt, 0);
    if (k == (ssize_t)total)
        return 1;
    if (!(k < 0 && (errno == ENOSYS || errno == EPERM))) {
        errno = EFAULT;
        return -1;
    }
    g_vm_broken = 1;
    return 0;
}

/* The main thread's stack from the current frame up to where the program started
 * (__libc_stack_end, glibc; musl has none: the program's name, AT_EXECFN, which the
 * kernel (or qemu-user's loader) writes at the top of that stack, above argv and envp)
 * is mapped and writable: user memory there needs no checked copy.  The frame must be
 * on that stack (not a signal stack, a coroutine's or another thread's): the main
 * thread, within the stack's rlimit of its top; the kernel keeps other mappings out of
 * that gap (mmap_base lies at least that far below, 128 MiB at least). */
extern void *__libc_stack_end __attribute__((weak));
static uintptr_t g_stk_top, g_stk_span;
static pthread_t g_stk_thread;

static void rn_stack_init(void)
{
    struct rlimit rl;
    uintptr_t top = &__libc_stack_end != NULL ? (uintptr_t)__libc_stack_end
                                              : (uintptr_t)getauxval(AT_EXECFN);
    if (top == 0 || getrlimit(RLIMIT_STACK, &rl) != 0)
        return;
    uintptr_t cap = (uintptr_t)128 << 20;
    g_stk_span = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap ? cap : (uintptr_t)rl.rlim_cur;
    g_stk_thread = pthread_self();
    g_stk_top = top;
}

__attribute__((noinline)) static int rn_on_stack(const void *p, size_t n)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0), a = (uintptr_t)p;
    return g_stk_top != 0 && sp < g_stk_top && g_stk_top - sp < g_stk_span && a >= sp &&
           a <= g_stk_top && n <= g_stk_top - a && pthread_equal(pthread_self(), g_stk_thread);
}

int rn_copy_in(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (rn_on_stack(src, n)) {
        memcpy(dst, src, n);
        return 0;
    }
    struct iovec mine = {dst, n}, user = {(void *)src, n};
    int v = rn_vm_copy(0, &mine, &user, 1, n);
    return v > 0 ? 0 : v < 0 ? -1 : rn_pipe_copy(dst, src, n);
}

int rn_copy_out(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if (rn_on_stack(dst, n)) {
        memcpy(dst, src, n);
        return 0;
    }
    struct iovec mine = {(void *)src, n}, user = {dst, n};
    int v = rn_vm_copy(1, &mine, &user, 1, n);
    return v > 0 ? 0 : v < 0 ? -1 : rn_pipe_copy(dst, src, n);
}

/* Two copies out in one system call (an address and its length): as rn_copy_out of
 * each, in order (a fault in the second leaves the first written, as the kernel's). */
int rn_copy_out2(void *d1, const void *s1, size_t n1, void *d2, const void *s2, size_t n2)
{
    if (rn_on_stack(d1, n1) && rn_on_stack(d2, n2)) {
        memcpy(d1, s1, n1);
        memcpy(d2, s2, n2);
        return 0;
    }
    struct iovec mine[2] = {{(void *)s1, n1}, {(void *)s2, n2}}, user[2] = {{d1, n1}, {d2, n2}};
    int v = rn_vm_copy(1, mine, user, 2, n1 + n2);
    if (v != 0)
        return v > 0 ? 0 : -1;
    return rn_copy_out(d1, s1, n1) < 0 ? -1 : rn_copy_out(d2, s2, n2);
}

int rn_high_base(void)
{
    struct rlimit rl;
    long lim = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        lim = (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536) ? 65536 : (long)rl.rlim_cur;
    long h = lim - 32;
    if (h < 256)
        h = 256;
    return (int)h;
}

/* Move fd to a high, close-on-exec number so the program's numbering is unchanged. */
int rn_move_high(int fd)
{
    int h = rn_high_base();
    if (fd >= h) {
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
    int n = fcntl(fd, F_DUPFD_CLOEXEC, h);
    if (n < 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
            (long)rl.rlim_cur - 1 > fd)
            n = fcntl(fd, F_DUPFD_CLOEXEC, (int)rl.rlim_cur - 1);
    }
    if (n < 0) { /* rlimit too low: keep the number we have */
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
    }
    REAL(close)(fd);
    return n;
}

ino_t rn_fd_ino(int fd) /* 0 if not open or not a socket */
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    return st.st_ino;
}

/* ------------------------------------------------------------------------ */
/* Cache                                                                     */

void rn_cache_clear(void)
{
    for (int i = 0; i < RN_CACHE_N; i++)
        __atomic_store_n(&g_cache[i].info, 0, __ATOMIC_RELAXED);
}

void rn_cache_set(int fd, uint64_t ino, uint64_t info)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    __atomic_store_n(&g_cache[fd].info, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cache[fd].ino, ino, __ATOMIC_RELEASE);
    __atomic_store_n(&g_cache[fd].info, info, __ATOMIC_RELEASE);
}

/* Set and clear flags of fd's entry in one atomic step (other threads update flags of
 * the same entry); an entry that is not s's any more is replaced. */
void rn_cache_flags(int fd, const struct rn_sock *s, uint64_t set, uint64_t clear)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    uint64_t cur = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
    for (;;) {
        if (INFO_STATE(cur) != ST_SHIM || INFO_ID(cur) != INFO_ID(s->info) ||
            __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE) != s->ino) {
            rn_cache_set(fd, s->ino, (s->info | set) & ~clear);
            return;
        }
        if (__atomic_compare_exchange_n(&g_cache[fd].info, &cur, (cur | set) & ~clear, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
}

uint64_t rn_mkinfo(uint64_t state, uint32_t id, int kind, uint64_t flags)
{
    return (state << 32) | id | ((uint64_t)(kind & 0xff) << 40) | flags;
}

/* ------------------------------------------------------------------------ */
/* Load time: read the environment only (plus adopting ROCKETNET_CTL_FD).     */

static void rn_atfork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&g_lock, &fresh, sizeof fresh);
    memcpy(&g_tlock, &fresh, sizeof fresh);
    memcpy(&g_plock, &fresh, sizeof fresh);
    memcpy(&g_dlock, &fresh, sizeof fresh);
    t_held = 0; /* the forking thread's: a child has no other thread */
    /* g_ctl_pid != getpid() now: the next RPC makes this process's connection */
}

/* Are we LD_PRELOADed (interposing), rather than dlopen'ed (RTLD_LOCAL) by some
 * process?  Only then may the environment be acted upon: such a process with
 * ROCKETNET_CTL_FD in its environment must not have that fd moved or the variable
 * removed. */
static int rn_is_preloaded(void)
{
    if (dlsym(RTLD_DEFAULT, "socket") == (void *)rn_socket)
        return 1;
    /* another preload library may come first: look for ourselves in LD_PRELOAD */
    Dl_info di;
    const char *pre = getenv("LD_PRELOAD");
    if (!pre || dladdr((void *)rn_socket, &di) == 0 || !di.dli_fname)
        return 0;
    const char *base = strrchr(di.dli_fname, '/');
    base = base ? base + 1 : di.dli_fname;
    size_t bl = strlen(base);
    for (const char *p = strstr(pre, base); p; p = strstr(p + 1, base)) {
        char after = p[bl];
        int start_ok = p == pre || p[-1] == '/' || p[-1] == ':' || p[-1] == ' ';
        if (start_ok && (after == 0 || after == ':' || after == ' '))
            return 1;
    }
    return 0;
}

__attribute__((constructor)) static void rn_init(int argc, char **argv)
{
    rn_self_init();
    const char *sock = getenv(RN_ENV_SOCK);
    const char *ctl = getenv(RN_ENV_CTL_FD);
    const char *trace = getenv(RN_ENV_TRACE);
    const char *dialer = getenv(RN_ENV_DIALER_FD);
    rn_resolve_all();
    if ((!sock && !ctl) || !rn_is_preloaded())
        return; /* pass-through everywhere */
    int ctl_fd = -1;
    if (ctl) {
        char *end;
        long v = strtol(ctl, &end, 10);
        if (end != ctl && *end == 0 && v >= 0 && v < INT_MAX)
            ctl_fd = (int)v;
        unsetenv(RN_ENV_CTL_FD); /* grandchildren must not take it */
    }
    if (!sock || !*sock || strlen(sock) >= sizeof g_sock_path)
        return; /* pass-through everywhere */
    memcpy(g_sock_path, sock, strlen(sock) + 1);
    if (trace && *trace && strlen(trace) < sizeof g_trace_path) {
        memcpy(g_trace_path, trace, strlen(trace) + 1);
        g_trace_on = 1;
        rn_tr_opts(getenv(RN_ENV_TRACE_OPTS));
    }
    if (ctl_fd >= 0 && rn_fd_ino(ctl_fd) != 0) {
        /* Move it off the low numbers now: the program must see Linux's numbering. */
        g_adopt_fd = rn_move_high(ctl_fd);
        g_adopt_ino = rn_fd_ino(g_adopt_fd);
        g_adopt_pid = rn_getpid();
    }
    if (dialer) {
        char *end;
        long v = strtol(dialer, &end, 10);
        int type = 0;
        socklen_t tl = sizeof type;
        if (end != dialer && *end == 0 && v >= 0 && v < INT_MAX && rn_fd_ino((int)v) != 0 &&
            REAL(getsockopt)((int)v, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
            type == SOCK_SEQPACKET) {
            /* High and inheritable: every exec'd image of this process tree finds it. */
            int fd = (int)v, h = rn_high_base();
            if (fd < h) {
                int n = fcntl(fd, F_DUPFD, h);
                if (n >= 0) {
                    REAL(close)(fd);
                    fd = n;
                }
            }
            fcntl(fd, F_SETFD, 0);
            g_dialer_fd = fd;
            g_dialer_ino = rn_fd_ino(fd);
            char num[16];
            snprintf(num, sizeof num, "%d", fd);
            setenv(RN_ENV_DIALER_FD, num, 1);
        } else {
            unsetenv(RN_ENV_DIALER_FD);
        }
    }
    pthread_atfork(NULL, NULL, rn_atfork_child);
    rn_stack_init();
    rn_ll_init(); /* landlock.c */
    rn_exec_init();
    g_enabled = 1;
    if (g_trace_on)
        rn_tr_image(argc, argv);
    rn_dg_scan(); /* datagram fds inherited over exec (dgram.c) */
}
