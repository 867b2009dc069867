/* forkexec.c: a process tree for --trace (tests/test_seccomp.py): the program makes a
 * socket, forks a child that makes one and _exits, forks another that fails an exec,
 * then execs this program again ("child": a socket, exit 3).  Each waits for the one
 * before, so every process's lines come in one order. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void one_socket(int type)
{
    int fd = socket(AF_INET, type, 0);
    if (fd < 0) {
        perror("socket");
        exit(1);
    }
    close(fd);
}

static int run(pid_t pid)
{
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0) {
        one_socket(SOCK_STREAM);
        exit(3);
    }
    one_socket(SOCK_STREAM);
    pid_t a = fork();
    if (a == 0) {
        one_socket(SOCK_DGRAM);
        _exit(0);
    }
    int ra = run(a);
    pid_t b = fork();
    if (b == 0) {
        char *args[] = {argv[0], "child", NULL};
        execv("/nonexistent/forkexec", args);   /* ENOENT: no execve line */
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int rb = run(b);
    printf("children: %d %d\n", ra, rb);
    return ra == 0 && rb == 3 ? 0 : 1;
}
