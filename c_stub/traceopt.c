/* traceopt.c - what `rocketnet run --trace` adds to each line, from ROCKETNET_TRACE_OPTS
 * (set by the CLI; comma-separated): "t" wall-clock time (UTC, microseconds), "r" seconds
 * since the run started ("T0=<ns since the epoch>"), "y" the host's socket id after
 * each shim fd (fd<sock N>, as host.log names sockets), "s=N" the first N bytes of each data
 * call's payload (strace -s), "e=call:call:..." only those calls.  And the lines that no
 * call makes: "execve" when an image of the run starts, "+++ exited with N +++" when a
 * process calls exit().  "x": no such lines for this process's own image (the seccomp
 * supervisor: it writes its program's instead, seccomp.c). */
#include "internal.h"

#define RN_STRSIZE_MAX 512

static int g_tr_abs, g_tr_rel;      /* timestamp kinds */
static int g_tr_noimage;            /* "x" */
int g_tr_sockids;                   /* "y": fd<sock N>, the id host.log names */
static long long g_tr_t0;           /* run start, ns since the epoch */
static int g_tr_strsize;            /* payload bytes per data call (0: none) */
static char g_tr_calls[512];        /* ":call:call:" wanted, empty = all */

void rn_tr_opts(const char *o)
{
    while (o && *o) {
        const char *end = strchr(o, ',');
        size_t n = end ? (size_t)(end - o) : strlen(o);
        if (n == 1 && *o == 't')
            g_tr_abs = 1;
        else if (n == 1 && *o == 'r')
            g_tr_rel = 1;
        else if (n == 1 && *o == 'y')
            g_tr_sockids = 1;
        else if (n == 1 && *o == 'x')
            g_tr_noimage = 1;
        else if (n > 3 && !strncmp(o, "T0=", 3))
            g_tr_t0 = strtoll(o + 3, NULL, 10);
        else if (n > 2 && !strncmp(o, "s=", 2)) {
            long v = strtol(o + 2, NULL, 10);
            g_tr_strsize = v < 0 ? 0 : v > RN_STRSIZE_MAX ? RN_STRSIZE_MAX : (int)v;
        } else if (n > 2 && !strncmp(o, "e=", 2) && n - 2 + 3 < sizeof g_tr_calls) {
            g_tr_calls[0] = ':';
            memcpy(g_tr_calls + 1, o + 2, n - 2);
            memcpy(g_tr_calls + n - 1, ":", 2);
        }
        o = end ? end + 1 : NULL;
    }
}

/* whether lines of this call are wanted (-e) */
int rn_tr_wanted(const char *call)
{
    if (!g_tr_calls[0])
        return 1;
    char key[40];
    int k = snprintf(key, sizeof key, ":%s:", call);
    return k > 0 && (size_t)k < sizeof key && strstr(g_tr_calls, key) != NULL;
}

/* the time part of a line, after the pid */
void tb_time(struct tb *t)
{
    if (!g_tr_abs && !g_tr_rel)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (g_tr_abs) {
        long s = (long)(ts.tv_sec % 86400);
        tb_add(t, "%02ld:%02ld:%02ld.%06ld ", s / 3600, s / 60 % 60, s % 60, ts.tv_nsec / 1000);
    }
    if (g_tr_rel) {
        long long d = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - g_tr_t0;
        if (d < 0)
            d = 0;
        tb_add(t, "%lld.%06lld ", d / 1000000000LL, d % 1000000000LL / 1000);
    }
}

/* bytes as strace shows them: "text\r\n\x01"..., at most n of them */
static void tb_bytes(struct tb *t, const unsigned char *p, size_t len, size_t n)
{
    size_t k = len < n ? len : n;
    tb_add(t, "\"");
    for (size_t i = 0; i < k && t->n < sizeof t->b - 8; i++) {
        unsigned char c = p[i];
        switch (c) {
        case '\n': tb_add(t, "\\n"); break;
        case '\r': tb_add(t, "\\r"); break;
        case '\t': tb_add(t, "\\t"); break;
        case '"': tb_add(t, "\\\""); break;
        case '\\': tb_add(t, "\\\\"); break;
        default:
            if (c >= 0x20 && c < 0x7f)
                tb_add(t, "%c", c);
            else
                tb_add(t, "\\x%02x", c);
        }
    }
    tb_add(t, len > k ? "\"..." : "\"");
}

/* a data call's payload (-s N): what was written or read, when the call moved bytes */
void tb_payload(struct tb *t, const void *buf, long r)
{
    if (g_tr_strsize > 0 && buf != NULL && r > 0) {
        tb_add(t, ", ");
        tb_bytes(t, buf, (size_t)r, (size_t)g_tr_strsize);
    }
}

/* "PID +++ exited with N +++" */
void rn_tr_exited(int status)
{
    struct tb t;
    tb_start(&t, "+++", INT_MIN);
    t.n -= 1;                       /* no "(" */
    tb_add(&t, " exited with %d +++\n", status & 0xff);
    t.skip = 0;                     /* process lines pass any -e filter */
    tb_emit(&t);
}

#ifdef __GLIBC__
static void rn_tr_exit(int status, void *arg)
{
    (void)arg;
    rn_tr_exited(status);
}
#endif

#ifdef __GLIBC__
/* _exit and _Exit end a process without exit()'s handlers (exit() itself reaches
 * libc's own _exit, not these): the exit line is written here, as strace writes one for
 * every exit and the seccomp path at every exit_group. */
void *g_real__exit;
typedef void (*f_exit_t)(int);

static void rn_exit_now(int status)
{
    if (g_trace_on && !g_tr_noimage)
        rn_tr_exited(status);
    f_exit_t real = (f_exit_t)rn_sym(&g_real__exit, "_exit");
    if (real != NULL)
        real(status);
    for (;;)
        REAL(syscall)(SYS_exit_group, status);
}

RN_EXPORT void rn__exit(int status) __asm__("_exit") __attribute__((noreturn));
void rn__exit(int status) { rn_exit_now(status); }
RN_EXPORT void rn__Exit(int status) __asm__("_Exit") __attribute__((noreturn));
void rn__Exit(int status) { rn_exit_now(status); }
#endif

/* "PID execve("/usr/bin/x", ["x", "-v"]) = 0" */
void rn_tr_execve(const char *exe, int argc, char **argv)
{
    struct tb t;
    tb_start(&t, "execve", INT_MIN);
    t.skip = 0;
    tb_bytes(&t, (const unsigned char *)exe, strlen(exe), 512);
    tb_add(&t, ", [");
    for (int i = 0; argv != NULL && i < argc && t.n < sizeof t.b - 16; i++) {
        if (i)
            tb_add(&t, ", ");
        tb_bytes(&t, (const unsigned char *)argv[i], strlen(argv[i]), 64);
    }
    tb_add(&t, "]) = 0\n");
    tb_emit(&t);
}

/* The execve line of each image of the run, then its exit line */
void rn_tr_image(int argc, char **argv)
{
    if (g_tr_noimage)
        return;
    char exe[512];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = 0;
    rn_tr_execve(exe, argc, argv);
#ifdef __GLIBC__
    on_exit(rn_tr_exit, NULL);
#endif  /* musl has no on_exit: no exit line there (the supervising run still reports) */
}
