/* callcost - what one intercepted call costs: nanoseconds per call of
 *   getsockopt(SO_TYPE) on an AF_INET TCP socket  (the stack answers: an RPC under the
 *                                                   shim, a proxied call via seccomp)
 *   write(1 byte) to /dev/null                      (the kernel's: untouched by the
 *                                                   stub, CONTINUE via seccomp)
 *   getppid()                                       (never intercepted)
 * Build: cc -O2 -o callcost tools/callcost.c; run natively, under `rocketnet run --`
 * and `rocketnet run --via seccomp --` side by side.  Usage: callcost [N]            */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int s = socket(AF_INET, SOCK_STREAM, 0), null = open("/dev/null", O_WRONLY);
    if (s < 0 || null < 0 || n <= 0)
        return 1;
    int v;
    socklen_t l;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        l = sizeof v;
        getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l);
    }
    double t1 = now_ns();
    for (long i = 0; i < n; i++)
        if (write(null, "x", 1) != 1)
            return 1;
    double t2 = now_ns();
    for (long i = 0; i < n; i++)
        getppid();
    double t3 = now_ns();
    printf("getsockopt(SO_TYPE) %.0f ns  write(/dev/null) %.0f ns  getppid %.0f ns\n",
           (t1 - t0) / (double)n, (t2 - t1) / (double)n, (t3 - t2) / (double)n);
    return 0;
}
