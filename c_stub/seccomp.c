/* seccomp.c - hooks for the seccomp supervisor (shim/seccomp_super.py).
 * Under `rocketnet run --via seccomp` the program's socket system calls reach
 * a supervisor process that has this stub preloaded: it takes a copy of the program's
 * fd (pidfd_getfd), puts it on a slot number of its own and makes the same call through
 * the stub, so both paths share one implementation of every call.  These functions are
 * what the supervisor needs beyond the libc names: the stub's classification of a fd,
 * moving a fd together with its cache entry, closing a slot while keeping that entry
 * (it is keyed by the socket's inode, so the next call on the same socket finds the
 * flags the stub keeps per socket), and the pid the trace lines name.                */
#include "internal.h"

/* A stream read (or send) the supervisor must make through the stub instead of
 * letting the kernel run it on A: the socket may never have connected, has read its
 * final EOF, or holds data back (MSG_MORE). */
#define RN_SC_PROXY_READ 0x100
#define RN_SC_PROXY_SEND 0x200
/* close() must go through the stub: SO_LINGER {1, secs} waits (rn_linger_close). */
#define RN_SC_LINGER 0x400
/* A listener: its A would take a send (unix_listener_send answers for it). */
#define RN_SC_LISTENER 0x800

/* The kind of fd's socket (RN_KIND_*), or'ed with RN_SC_PROXY_*; 0 if it is not a shim
 * fd; -1 with errno if the host is unreachable. */
RN_EXPORT int rn_sc_classify(int fd);
int rn_sc_classify(int fd)
{
    struct rn_sock s;
    int c = rn_classify(fd, &s);
    if (c <= 0)
        return c;
    int r = INFO_KIND(s.info);
    if (s.info & (F_UNCONN | F_EOF))
        r |= RN_SC_PROXY_READ;
    if (s.info & F_MORE)
        r |= RN_SC_PROXY_SEND;
    if (s.info & F_LINGER)
        r |= RN_SC_LINGER;
    if (s.info & F_LISTENER)
        r |= RN_SC_LISTENER;
    return r;
}

/* Move fd to slot (close-on-exec there) with its cache entry; slot, or -1 with errno. */
RN_EXPORT int rn_sc_move(int fd, int slot);
int rn_sc_move(int fd, int slot)
{
    if (fd == slot)
        return slot;
    if (REAL(syscall)(SYS_dup3, fd, slot, O_CLOEXEC) < 0)
        return -1;
    if (fd >= 0 && fd < RN_CACHE_N && slot >= 0 && slot < RN_CACHE_N) {
        uint64_t info = __atomic_exchange_n(&g_cache[fd].info, 0, __ATOMIC_ACQ_REL);
        rn_cache_set(slot, __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE), info);
    }
    REAL(close)(fd);
    return slot;
}

/* close() through the stub (SO_LINGER's wait), keeping the slot's cache entry: when
 * other references to the socket remain, the next call on it finds F_LINGER again. */
RN_EXPORT int rn_sc_close(int fd);
int rn_sc_close(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return rn_close(fd);
    uint64_t ino = __atomic_load_n(&g_cache[fd].ino, __ATOMIC_ACQUIRE);
    uint64_t info = __atomic_load_n(&g_cache[fd].info, __ATOMIC_ACQUIRE);
    int r = rn_close(fd), e = errno;
    rn_cache_set(fd, ino, info);
    errno = e;
    return r;
}

/* Close a slot, keeping its cache entry (see above). */
RN_EXPORT int rn_sc_release(int fd);
int rn_sc_release(int fd) { return REAL(close)(fd); }

/* Trace lines of a call made for a program are held until the supervisor knows the
 * fd number the program got (socket, accept: the stub saw its own number). */
static __thread struct tb g_held[4];
static __thread int g_nheld;

int rn_sc_hold(const struct tb *t)
{
    if (g_nheld >= (int)(sizeof g_held / sizeof g_held[0]))
        return 0;
    g_held[g_nheld++] = *t;
    return 1;
}

/* The program's addresses of the buffers the supervisor copied for the call this
 * thread makes for it: a trace line shows the program's pointers, not the copies'. */
struct rn_sc_span {
    uintptr_t lo, n, theirs;
};
static __thread struct rn_sc_span g_spans[8];
static __thread int g_nspans;

RN_EXPORT void rn_sc_span(const void *ours, size_t n, uintptr_t theirs);
void rn_sc_span(const void *ours, size_t n, uintptr_t theirs)
{
    if (g_nspans < (int)(sizeof g_spans / sizeof g_spans[0]))
        g_spans[g_nspans++] = (struct rn_sc_span){(uintptr_t)ours, n ? n : 1, theirs};
}

const void *rn_sc_theirs(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < g_nspans; i++)
        if (a - g_spans[i].lo < g_spans[i].n)
            return (const void *)(g_spans[i].theirs + (a - g_spans[i].lo));
    return p;
}

/* The process and fd the calling thread acts for (pid 0: its own again) and the slot
 * that fd is on here.  Trace lines carry the pid and fd. */
RN_EXPORT void rn_sc_acting(int pid, int slot, int fd);
void rn_sc_acting(int pid, int slot, int fd)
{
    if (pid == 0)
        g_nspans = 0;
    g_acting_pid = pid;
    g_acting_slot = slot;
    g_acting_fd = fd;
}

/* Text of the held lines to show otherwise (socketpair's "[ours, ours]": the numbers
 * the program got). */
static __thread char g_from[48], g_to[48];

RN_EXPORT void rn_sc_rename(const char *from, const char *to);
void rn_sc_rename(const char *from, const char *to)
{
    snprintf(g_from, sizeof g_from, "%s", from);
    snprintf(g_to, sizeof g_to, "%s", to);
}

static void rn_sc_renamed(struct tb *t)
{
    size_t nf = strlen(g_from), nt = strlen(g_to);
    char *at = nf ? memmem(t->b, t->n, g_from, nf) : NULL;
    if (at == NULL || t->n - nf + nt > sizeof t->b)
        return;
    size_t head = (size_t)(at - t->b), tail = t->n - head - nf;
    memmove(t->b + head + nt, at + nf, tail);
    memcpy(t->b + head, g_to, nt);
    t->n = head + nt + tail;
}

/* Write the held lines; a last line ending "= <ours>" says "= <theirs>" instead (the
 * number the program got for the fd the stub returned here). */
RN_EXPORT void rn_sc_flush(int ours, int theirs);
void rn_sc_flush(int ours, int theirs)
{
    int n = g_nheld, pid = g_acting_pid;
    g_nheld = 0;
    g_acting_pid = 0;
    for (int i = 0; i < n; i++) {
        struct tb *t = &g_held[i];
        rn_sc_renamed(t);
        char tail[24];
        int k = snprintf(tail, sizeof tail, " = %d\n", ours);
        if (i == n - 1 && ours >= 0 && k > 0 && t->n >= (size_t)k &&
            memcmp(t->b + t->n - (size_t)k, tail, (size_t)k) == 0) {
            t->n -= (size_t)k;
            tb_add(t, " = %d\n", theirs);
        }
        tb_emit(t);
    }
    g_from[0] = 0;
    g_acting_pid = pid;
}

/* The program's own trace lines, which its image (no stub loaded) cannot write: its
 * execve line once its exec succeeded, its exit line (status: exit's argument). */
RN_EXPORT void rn_sc_execve(int pid, const char *exe, int argc, char **argv);
void rn_sc_execve(int pid, const char *exe, int argc, char **argv)
{
    rn_sc_acting(pid, -1, -1);
    rn_tr_execve(exe, argc, argv);
    rn_sc_flush(-1, -1);
    rn_sc_acting(0, -1, -1);
}

RN_EXPORT void rn_sc_exited(int pid, int status);
void rn_sc_exited(int pid, int status)
{
    rn_sc_acting(pid, -1, -1);
    rn_tr_exited(status);
    rn_sc_flush(-1, -1);
    rn_sc_acting(0, -1, -1);
}

#include <sys/wait.h>

/* Add src to the epoll set epfd under the number num (the program's fd number for it:
 * epoll keys an interest by file and number, and the program's later EPOLL_CTL_MOD/DEL
 * name num).  The supervisor's own fds may hold num, so a forked child, with a copy of
 * the fd table and only raw system calls, puts src there and adds it.  0, or -1 with
 * errno. */
RN_EXPORT int rn_sc_epoll_add(int epfd, int src, int num, uint32_t events, uint64_t data);
int rn_sc_epoll_add(int epfd, int src, int num, uint32_t events, uint64_t data)
{
    long pid = REAL(syscall)(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* fork: no SYS_fork everywhere */
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (epfd == num)
            epfd = (int)REAL(syscall)(SYS_fcntl, epfd, F_DUPFD, num + 1);
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = events;
        ev.data.u64 = data;
        long r = epfd < 0 ? -1 : REAL(syscall)(SYS_dup3, src, num, 0);
        if (r >= 0 || src == num)
            r = REAL(syscall)(SYS_epoll_ctl, epfd, EPOLL_CTL_ADD, num, &ev);
        REAL(syscall)(SYS_exit_group, r < 0 ? (errno & 0xff) : 0);
    }
    int st = 0;
    while (REAL(syscall)(SYS_wait4, pid, &st, __WALL, NULL) < 0)
        if (errno != EINTR)
            return -1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        errno = WIFEXITED(st) ? WEXITSTATUS(st) : EIO;
        return -1;
    }
    return 0;
}

/* Whom the host authorises: it takes every request's sender from the kernel's
 * SCM_CREDENTIALS (control.py), which by default name this supervisor, not the program
 * whose call this thread makes.  While acting for a caller, the thread's control
 * requests carry SCM_CREDENTIALS naming it: the kernel accepts another process's pid
 * and ids only from a sender with CAP_SYS_ADMIN / CAP_SETUID / CAP_SETGID (scm_check_creds),
 * and the ids are the caller's own, read by the supervisor from /proc/<pid>/status while
 * its notification is valid.  A supervisor without those capabilities is refused
 * (EPERM): its requests then go out as its own, whose rights bound the program's (the
 * filter sets no_new_privs). */
static __thread struct ucred g_sc_cred; /* pid 0: the thread acts for nobody */
static int g_sc_cred_refused;
static f_sendmsg_t g_sc_real_sendmsg;

static ssize_t rn_sc_sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (g_sc_cred.pid == 0 || fd != g_ctl_fd || __atomic_load_n(&g_sc_cred_refused, __ATOMIC_RELAXED))
        return g_sc_real_sendmsg(fd, m, flags);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    if (m->msg_controllen > sizeof cm.b - CMSG_SPACE(sizeof(struct ucred)))
        return g_sc_real_sendmsg(fd, m, flags);
    memset(&cm, 0, sizeof cm);
    struct msghdr m2 = *m;
    struct cmsghdr *c = &cm.h;
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
    memcpy(CMSG_DATA(c), &g_sc_cred, sizeof g_sc_cred);
    if (m->msg_controllen)
        memcpy(cm.b + CMSG_SPACE(sizeof(struct ucred)), m->msg_control, m->msg_controllen);
    m2.msg_control = cm.b;
    m2.msg_controllen = CMSG_SPACE(sizeof(struct ucred)) + m->msg_controllen;
    ssize_t r = g_sc_real_sendmsg(fd, &m2, flags);
    if (r < 0 && errno == EPERM) {
        __atomic_store_n(&g_sc_cred_refused, 1, __ATOMIC_RELAXED);
        return g_sc_real_sendmsg(fd, m, flags);
    }
    return r;
}

/* Every sendmsg of the stub goes through rn_sc_sendmsg from now on (only the
 * supervisor calls rn_sc_cred). */
static void rn_sc_cred_install(void)
{
    g_sc_real_sendmsg = REAL(sendmsg);
    __atomic_store_n(&rn_real_ptr[R_sendmsg], (void *)rn_sc_sendmsg, __ATOMIC_RELEASE);
}

/* The caller the calling thread's requests name from now on (pid 0: none again). */
RN_EXPORT void rn_sc_cred(int pid, int uid, int gid);
void rn_sc_cred(int pid, int uid, int gid)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, rn_sc_cred_install);
    g_sc_cred.pid = pid;
    g_sc_cred.uid = (uid_t)uid;
    g_sc_cred.gid = (gid_t)gid;
}
