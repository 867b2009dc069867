/* privdrop: a forked child that drops root (setuid nobody, as LTP's bind02 does) keeps
 * using sockets, in the same image and after exec; binding a privileged port then
 * fails with EACCES.  Prints return values and errno names only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conformance.h"

static void calls(const char *who)
{
    char what[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    snprintf(what, sizeof what, "%s: socket() >= 0", who);
    show(what, fd < 0 ? -1 : 0);
    struct sockaddr_in a = v4("127.0.0.1", 463);
    snprintf(what, sizeof what, "%s: bind(privileged port)", who);
    show(what, bind(fd, (struct sockaddr *)&a, sizeof a));
    a = v4("127.0.0.1", 0);
    snprintf(what, sizeof what, "%s: bind(port 0)", who);
    show(what, bind(fd, (struct sockaddr *)&a, sizeof a));
    snprintf(what, sizeof what, "%s: listen", who);
    show(what, listen(fd, 1));
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc > 1) { /* the exec'd image, already unprivileged */
        calls("after exec");
        return 0;
    }
    if (geteuid() != 0) {
        printf("not root: nothing to drop\n");
        return 0;
    }
    calls("root");
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(3);
        calls("child as nobody");
        execl("/proc/self/exe", argv[0], "exec", (char *)NULL);
        _exit(4);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("child exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    pid = fork();
    if (pid == 0) { /* effective uid only, as LTP's seteuid() */
        if (setegid(65534) < 0 || seteuid(65534) < 0)
            _exit(3);
        calls("child with euid nobody");
        _exit(0);
    }
    waitpid(pid, &st, 0);
    printf("child exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    fflush(stdout);
    return 0;
}
