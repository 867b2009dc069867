/* netload: TCP load on 127.0.0.1 between a process and its forked child, for every
 * build of the preload stub (tests/test_builds.py) and for tools/callcost.
 *   netload bulk MIB   the child sends MIB MiB of a pattern; the parent checks it
 *   netload rr N       N 64-byte request/response round trips
 *   netload rtt N      the same, timed: us per round trip
 *   netload calls N    N getsockname() calls on a bound TCP socket; ns per call
 *   netload exec PROG ARGS...   execvp PROG (a program of another C library, say)
 *   netload spawn PROG ARGS...  posix_spawnp PROG and end as it did
 * Prints one result line; exits non-zero on any failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MSG 64

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int listener(struct sockaddr_in *a)
{
    socklen_t len = sizeof *a;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)a, sizeof *a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)a, &len) < 0)
        die("listener");
    return l;
}

static int dial(const struct sockaddr_in *a)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof *a) < 0)
        die("connect");
    return c;
}

static int full(int fd, char *b, size_t n, int sending)
{
    for (size_t done = 0; done < n;) {
        ssize_t k = sending ? send(fd, b + done, n - done, 0) : recv(fd, b + done, n - done, 0);
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char pattern(size_t i)
{
    return (char)(i * 7 + i / 251);
}

static int bulk(long mib)
{
    struct sockaddr_in a;
    int l = listener(&a);
    static char buf[CHUNK];
    size_t total = (size_t)mib << 20;
    pid_t pid = fork();
    if (pid == 0) {
        int c = dial(&a);
        for (size_t off = 0; off < total; off += CHUNK) {
            for (size_t i = 0; i < CHUNK; i++)
                buf[i] = pattern(off + i);
            if (full(c, buf, CHUNK, 1) < 0)
                die("send");
        }
        close(c);
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0)
        die("accept");
    size_t got = 0, bad = 0;
    ssize_t k;
    while ((k = recv(s, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < k; i++)
            bad += buf[i] != pattern(got + (size_t)i);
        got += (size_t)k;
    }
    int st;
    waitpid(pid, &st, 0);
    printf("bulk %zu bytes, %zu wrong, recv end %zd\n", got, bad, k);
    return got == total && bad == 0 && k == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int rr(long n, int timed)
{
    struct sockaddr_in a;
    int l = listener(&a);
    char msg[MSG];
    pid_t pid = fork();
    if (pid == 0) {
        int c = dial(&a);
        while (full(c, msg, MSG, 0) == 0)
            if (full(c, msg, MSG, 1) < 0)
                die("echo");
        _exit(0);
    }
    int s = accept(l, NULL, NULL);
    if (s < 0)
        die("accept");
    long ok = 0;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        memset(msg, (int)(i & 0x7f), MSG);
        char back[MSG];
        if (full(s, msg, MSG, 1) < 0 || full(s, back, MSG, 0) < 0)
            break;
        ok += memcmp(msg, back, MSG) == 0;
    }
    close(s);
    int st;
    waitpid(pid, &st, 0);
    if (timed)
        printf("rtt %ld round trips %.1f us each\n", n, (now() - t0) * 1e6 / (double)n);
    else
        printf("rr %ld of %ld round trips echoed\n", ok, n);
    return ok == n ? 0 : 1;
}

static int calls(long n)
{
    struct sockaddr_in a;
    int l = listener(&a);
    socklen_t len = sizeof a;
    double t0 = now();
    for (long i = 0; i < n; i++)
        if (getsockname(l, (struct sockaddr *)&a, &len) < 0)
            die("getsockname");
    printf("calls %ld getsockname %.0f ns per call\n", n, (now() - t0) * 1e9 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "exec") == 0) {
        execvp(argv[2], argv + 2);
        die("execvp");
    }
    if (argc >= 3 && strcmp(argv[1], "spawn") == 0) {
        extern char **environ;
        pid_t pid;
        int st, e = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
        if (e != 0 || waitpid(pid, &st, 0) != pid)
            return fprintf(stderr, "posix_spawnp: %s\n", strerror(e)), 1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (n <= 0)
        return fprintf(stderr, "usage: netload bulk MIB|rr N|rtt N|calls N|exec|spawn PROG ARGS\n"), 2;
    if (strcmp(argv[1], "bulk") == 0)
        return bulk(n);
    if (strcmp(argv[1], "rr") == 0)
        return rr(n, 0);
    if (strcmp(argv[1], "rtt") == 0)
        return rr(n, 1);
    if (strcmp(argv[1], "calls") == 0)
        return calls(n);
    return 2;
}
