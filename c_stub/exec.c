/* exec.c - every exec picks the preload build that matches the new image.
 *
 * The stub is built once per C library and machine
 * (rocketnet-x86_64-glibc.so, rocketnet-x86_64-musl.so, ...: c_stub/build_preload.py);
 * a glibc program may exec a musl one and the other way round.  Before each exec the
 * stub reads the new image's ELF header and PT_INTERP (program.c) and puts the build
 * for that loader, from its own directory, in LD_PRELOAD's place of its own.  A
 * program no build can serve (static, foreign machine, a loader without a build) is
 * named in one stderr line.  Everything between vfork and exec here is
 * async-signal-safe: open/pread/close/access/write and stack buffers only.
 *
 * glibc's and musl's own execv/execvp/execl.../posix_spawn reach execve inside libc,
 * where no interposer sees them, so each entry point is wrapped here.
 */
#include "internal.h"

#include <spawn.h>

#include "program.h"

extern char **environ;

typedef int (*f_execve_t)(const char *, char *const[], char *const[]);
typedef int (*f_execveat_t)(int, const char *, char *const[], char *const[], int);
typedef int (*f_fexecve_t)(int, char *const[], char *const[]);
typedef int (*f_posix_spawn_t)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                               const posix_spawnattr_t *, char *const[], char *const[]);

static struct {
    f_execve_t execve, execvpe;
    f_execveat_t execveat;
    f_fexecve_t fexecve;
    f_posix_spawn_t posix_spawn, posix_spawnp;
} rn_x;
static char g_preload_dir[PATH_MAX]; /* where this build lies: its siblings too */
static size_t g_preload_dir_len;

#define RN_BUILD_PREFIX "/rocketnet-"
#define RN_BUILD_SUFFIX ".so"
#define RN_ENV_MAX 1024 /* environment entries we rewrite (stack room: musl threads are small) */

/* At load (never in a vfork child): the real functions and our own directory. */
void rn_exec_init(void)
{
    rn_x.execve = (f_execve_t)dlsym(RTLD_NEXT, "execve");
    rn_x.execvpe = (f_execve_t)dlsym(RTLD_NEXT, "execvpe");
    rn_x.execveat = (f_execveat_t)dlsym(RTLD_NEXT, "execveat"); /* NULL on musl */
    rn_x.fexecve = (f_fexecve_t)dlsym(RTLD_NEXT, "fexecve");
    rn_x.posix_spawn = (f_posix_spawn_t)dlsym(RTLD_NEXT, "posix_spawn");
    rn_x.posix_spawnp = (f_posix_spawn_t)dlsym(RTLD_NEXT, "posix_spawnp");
    rn_resolve(R_write);
    rn_resolve(R_syscall);
    Dl_info di;
    if (dladdr((void *)rn_exec_init, &di) == 0 || !di.dli_fname || di.dli_fname[0] != '/')
        return;
    const char *slash = strrchr(di.dli_fname, '/');
    size_t n = (size_t)(slash - di.dli_fname);
    if (n >= sizeof g_preload_dir)
        return;
    memcpy(g_preload_dir, di.dli_fname, n);
    g_preload_dir[n] = 0;
    g_preload_dir_len = n;
}

/* A bounded string builder on the caller's stack. */
struct rn_sb {
    char *b;
    size_t n, cap;
    int over;
};

static void sb_put(struct rn_sb *s, const char *p, size_t n)
{
    if (s->n + n >= s->cap) {
        s->over = 1;
        return;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = 0;
}

static void sb_str(struct rn_sb *s, const char *p)
{
    sb_put(s, p, strlen(p));
}

/* Is the LD_PRELOAD entry E (length N) one of our builds? */
static int rn_is_build(const char *e, size_t n)
{
    size_t pre = g_preload_dir_len + sizeof RN_BUILD_PREFIX - 1;
    size_t suf = sizeof RN_BUILD_SUFFIX - 1;
    return n > pre + suf && memcmp(e, g_preload_dir, g_preload_dir_len) == 0 &&
           memcmp(e + g_preload_dir_len, RN_BUILD_PREFIX, pre - g_preload_dir_len) == 0 &&
           memcmp(e + n - suf, RN_BUILD_SUFFIX, suf) == 0 && !memchr(e + pre, '/', n - pre);
}

static void rn_exec_say(const char *shown, const char *what, const char *then)
{
    char line[768];
    struct rn_sb s = {line, 0, sizeof line, 0};
    sb_str(&s, "rocketnet: ");
    sb_put(&s, shown, strnlen(shown, 400));
    sb_str(&s, ": ");
    sb_str(&s, what);
    sb_str(&s, then);
    rn_write_all(2, line, s.n);
}

#define RN_MACHINES "; its sockets will be the machine's\n"

/* The LD_PRELOAD value for program P (in BUF), or NULL to leave the environment as
 * it is.  SHOWN names the program in the line said when no build can serve it. */
static const char *rn_exec_preload(const char *old, struct rn_program *p, const char *shown,
                                   char *buf, size_t cap)
{
    if (p->script) {
        /* the kernel runs the interpreter: that image is the one to match */
        struct rn_program interp;
        if (rn_program_read(AT_FDCWD, p->interp, &interp) < 0)
            return NULL;
        shown = p->interp;
        *p = interp;
    }
    if (!p->elf)
        return NULL;
    const char *problem = rn_program_problem(p, rn_own_arch());
    char want[PATH_MAX];
    struct rn_sb w = {want, 0, sizeof want, 0};
    if (!problem) {
        sb_put(&w, g_preload_dir, g_preload_dir_len);
        sb_str(&w, RN_BUILD_PREFIX);
        sb_str(&w, rn_preload_build(p->interp));
        sb_str(&w, RN_BUILD_SUFFIX);
        if (w.over || access(want, R_OK) != 0)
            problem = "its C library has no rocketnet build installed here";
    }
    if (problem) {
        rn_exec_say(shown, problem, RN_MACHINES);
        if (!p->dynamic)
            return NULL; /* no loader reads LD_PRELOAD; its children still may */
        w.n = 0;         /* drop our entries: that loader cannot load them */
    }
    struct rn_sb s = {buf, 0, cap, 0};
    sb_str(&s, "LD_PRELOAD=");
    const char *q = old;
    while (*q) {
        size_t sep = strspn(q, ": ");
        sb_put(&s, q, sep);
        q += sep;
        size_t n = strcspn(q, ": ");
        if (rn_is_build(q, n))
            sb_put(&s, want, w.n);
        else
            sb_put(&s, q, n);
        q += n;
    }
    return s.over ? NULL : buf;
}

/* ENVP with its LD_PRELOAD entry for program P, in ENV (cap entries) and BUF. */
static char *const *rn_exec_env(struct rn_program *p, const char *shown, char *const envp[],
                                char **env, size_t cap, char *buf, size_t bufcap)
{
    if (!g_enabled || !g_preload_dir_len || !envp)
        return envp;
    size_t n = 0, at = cap;
    for (; envp[n]; n++)
        if (n < cap && strncmp(envp[n], "LD_PRELOAD=", 11) == 0)
            at = n;
    if (n >= cap) {
        rn_exec_say(shown, "more environment entries than the stub rewrites",
                    "; its preload build is left as it is\n");
        return envp;
    }
    if (at == cap)
        return envp;
    const char *value = rn_exec_preload(envp[at] + 11, p, shown, buf, bufcap);
    if (!value || strcmp(value, envp[at]) == 0)
        return envp;
    for (size_t i = 0; i <= n; i++)
        env[i] = i == at ? (char *)value : envp[i];
    return env;
}

/* The stack room rn_exec_env needs, declared in each wrapper. */
#define RN_EXEC_ROOM                  \
    char *rn_env[RN_ENV_MAX];         \
    char rn_buf[4096];                \
    struct rn_program rn_prog

#define RN_ENV_FOR(envp, shown) \
    rn_exec_env(&rn_prog, shown, envp, rn_env, RN_ENV_MAX, rn_buf, sizeof rn_buf)

/* The file execvp/posix_spawnp will run: PATH searched as libc does (first
 * executable candidate), into BUF. */
static const char *rn_exec_search(const char *file, char *const envp[], char *buf, size_t cap)
{
    if (strchr(file, '/'))
        return file;
    const char *path = "/usr/local/bin:/bin:/usr/bin";
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            path = envp[i] + 5;
    for (const char *q = path;; q++) {
        size_t n = strcspn(q, ":");
        struct rn_sb s = {buf, 0, cap, 0};
        sb_put(&s, n ? q : ".", n ? n : 1);
        sb_str(&s, "/");
        sb_str(&s, file);
        if (!s.over && access(buf, X_OK) == 0)
            return buf;
        q += n;
        if (!*q)
            return NULL;
    }
}

RN_EXPORT int rn_execve(const char *path, char *const argv[], char *const envp[]) __asm__("execve");
RN_EXPORT int rn_execve(const char *path, char *const argv[], char *const envp[])
{
    RN_EXEC_ROOM;
    char *const *env = envp;
    if (g_enabled && rn_program_read(AT_FDCWD, path, &rn_prog) == 0)
        env = RN_ENV_FOR(envp, path);
    return rn_x.execve(path, argv, env);
}

RN_EXPORT int rn_execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                          int flags) __asm__("execveat");
RN_EXPORT int rn_execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                          int flags)
{
    RN_EXEC_ROOM;
    char *const *env = envp;
    if (g_enabled) {
        int ok;
        if ((flags & AT_EMPTY_PATH) && path && !*path) {
            ok = rn_program_read_fd(dirfd, &rn_prog);
        } else {
            int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
                                             ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0));
            ok = fd < 0 ? -1 : rn_program_read_fd(fd, &rn_prog);
            if (fd >= 0)
                close(fd);
        }
        if (ok == 0)
            env = RN_ENV_FOR(envp, path && *path ? path : "(execveat fd)");
    }
    if (rn_x.execveat)
        return rn_x.execveat(dirfd, path, argv, env, flags);
    return (int)REAL(syscall)(SYS_execveat, dirfd, path, argv, env, flags);
}

RN_EXPORT int rn_fexecve(int fd, char *const argv[], char *const envp[]) __asm__("fexecve");
RN_EXPORT int rn_fexecve(int fd, char *const argv[], char *const envp[])
{
    RN_EXEC_ROOM;
    char *const *env = envp;
    if (g_enabled && rn_program_read_fd(fd, &rn_prog) == 0)
        env = RN_ENV_FOR(envp, "(fexecve fd)");
    return rn_x.fexecve(fd, argv, env);
}

RN_EXPORT int rn_execvpe(const char *file, char *const argv[], char *const envp[])
    __asm__("execvpe");
RN_EXPORT int rn_execvpe(const char *file, char *const argv[], char *const envp[])
{
    RN_EXEC_ROOM;
    char found[PATH_MAX];
    char *const *env = envp;
    /* execvpe searches the caller's PATH, not envp's */
    const char *path = g_enabled ? rn_exec_search(file, environ, found, sizeof found) : NULL;
    if (path && rn_program_read(AT_FDCWD, path, &rn_prog) == 0)
        env = RN_ENV_FOR(envp, path);
    return rn_x.execvpe(file, argv, env);
}

RN_EXPORT int rn_execv(const char *path, char *const argv[]) __asm__("execv");
RN_EXPORT int rn_execv(const char *path, char *const argv[])
{
    return rn_execve(path, argv, environ);
}

RN_EXPORT int rn_execvp(const char *file, char *const argv[]) __asm__("execvp");
RN_EXPORT int rn_execvp(const char *file, char *const argv[])
{
    return rn_execvpe(file, argv, environ);
}

/* execl, execlp, execle: the list into an argv on the stack (then envp for execle). */
static size_t rn_execl_count(va_list *ap)
{
    size_t n = 0;
    while (va_arg(*ap, char *))
        n++;
    return n;
}

/* ARGV (n + 2 slots): ARG, the n arguments, NULL; AP ends past the list's NULL. */
static void rn_execl_fill(const char *arg, va_list *ap, char **argv, size_t n)
{
    argv[0] = (char *)arg;
    for (size_t i = 1; i <= n; i++)
        argv[i] = va_arg(*ap, char *);
    argv[n + 1] = NULL;
    (void)va_arg(*ap, char *);
}

#define RN_EXECL_ARGV(arg, argv, ap)       \
    va_start(ap, arg);                     \
    size_t rn_n = rn_execl_count(&ap);     \
    va_end(ap);                            \
    char *argv[rn_n + 2];                  \
    va_start(ap, arg);                     \
    rn_execl_fill(arg, &ap, argv, rn_n)

/* execl and execlp: the list into an argv, then their v-form */
#define RN_EXECL(name, vform)                                                  \
    RN_EXPORT int rn_##name(const char *p, const char *arg, ...) __asm__(#name); \
    RN_EXPORT int rn_##name(const char *p, const char *arg, ...)               \
    {                                                                          \
        va_list ap;                                                            \
        RN_EXECL_ARGV(arg, argv, ap);                                          \
        va_end(ap);                                                            \
        return vform(p, argv, environ);                                        \
    }
RN_EXECL(execl, rn_execve)
RN_EXECL(execlp, rn_execvpe)

RN_EXPORT int rn_execle(const char *path, const char *arg, ...) __asm__("execle");
RN_EXPORT int rn_execle(const char *path, const char *arg, ...)
{
    va_list ap;
    RN_EXECL_ARGV(arg, argv, ap);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return rn_execve(path, argv, envp);
}

/* posix_spawn (SEARCH 0) and posix_spawnp (1: the caller's PATH, as execvpe) */
static int rn_spawn(f_posix_spawn_t real, int search, pid_t *pid, const char *file,
                    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                    char *const argv[], char *const envp[])
{
    RN_EXEC_ROOM;
    char found[PATH_MAX];
    char *const *env = envp;
    const char *path = !g_enabled ? NULL
                       : search   ? rn_exec_search(file, environ, found, sizeof found)
                                  : file;
    if (path && rn_program_read(AT_FDCWD, path, &rn_prog) == 0)
        env = RN_ENV_FOR(envp, path);
    return real(pid, file, fa, attr, argv, env);
}

RN_EXPORT int rn_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[],
                             char *const envp[]) __asm__("posix_spawn");
RN_EXPORT int rn_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                             const posix_spawnattr_t *attr, char *const argv[],
                             char *const envp[])
{
    return rn_spawn(rn_x.posix_spawn, 0, pid, path, fa, attr, argv, envp);
}

RN_EXPORT int rn_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[],
                              char *const envp[]) __asm__("posix_spawnp");
RN_EXPORT int rn_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[],
                              char *const envp[])
{
    return rn_spawn(rn_x.posix_spawnp, 1, pid, file, fa, attr, argv, envp);
}
