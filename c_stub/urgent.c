/* TCP urgent data on kernels whose AF_UNIX MSG_OOB differs from TCP's.
 *
 * A TCP shim socket's urgent byte reaches the program out of band on its A, an AF_UNIX
 * stream socket.  AF_UNIX keeps a byte read out of band queued, empty, until an in-band
 * read passes it.  Linux 6.1 (the host's profile says which kernel does what:
 * RN_HELLO_OOB_*) then answers SIOCATMARK 0 where TCP answers 1 (the read position is
 * still the urgent mark), and a non-blocking read that meets the empty byte first
 * drops it and fails with EAGAIN once where TCP reads the data behind it.  Later
 * kernels answer as TCP.  On the former, the stub keeps two flags per fd and makes up
 * for both; nothing here runs where the kernel needs nothing made up. */
#include "internal.h"

#include <sys/ioctl.h>

#define F_OOBHEAD (1ULL << 54) /* A: a byte was read out of band; the next read may meet it */
#define F_OOBMARK (1ULL << 55) /* ... read at the mark: it is the head of A, the mark */

void *g_real_ioctl;

static inline uint64_t urg_flags(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return 0;
    return __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED) & (F_OOBHEAD | F_OOBMARK);
}

/* SIOCATMARK as TCP answers it where the empty byte read at the mark heads A: still
 * the mark unless more urgent data is pending behind in-band bytes (TCP moves the mark
 * to the new urgent byte, skipping the old one).  -1: ask the kernel. */
int urg_mark(int fd)
{
    if (!(g_oob_quirks & RN_HELLO_OOB_NOMARK) || !(urg_flags(fd) & F_OOBMARK))
        return -1;
    int e = errno;
    struct pollfd p = {fd, POLLPRI, 0};
    int inq = 0;
    f_ioctl_t real = (f_ioctl_t)rn_sym(&g_real_ioctl, "ioctl");
    int r = poll(&p, 1, 0) <= 0 || !(p.revents & POLLPRI) ||
            (real(fd, FIONREAD, &inq) == 0 && inq == 1);
    errno = e;
    return r;
}

/* Before a read on fd with flags: for a MSG_OOB read of a shim stream socket, whether
 * it is at the mark (0/1); -1 otherwise. */
int urg_before(int fd, int flags)
{
    if ((flags & (MSG_OOB | MSG_PEEK)) != MSG_OOB)
        return -1;
    int e = errno, at = urg_mark(fd);
    struct rn_sock s;
    if (rn_classify(fd, &s) <= 0 || INFO_KIND(s.info) != RN_KIND_STREAM) {
        errno = e;
        return -1;
    }
    if (at < 0) {
        f_ioctl_t real = (f_ioctl_t)rn_sym(&g_real_ioctl, "ioctl");
        at = real(fd, SIOCATMARK, &at) == 0 ? at : 0;
    }
    errno = e;
    return at;
}

/* After the read (r, errno): note an urgent byte read out of band; 1 if the read met
 * the empty byte and must be made again (the kernel has dropped it now). */
int urg_after(int fd, int flags, ssize_t r, int at)
{
    uint64_t f = urg_flags(fd);
    struct rn_sock s;
    int e = errno;
    if (at >= 0) {
        if (r == 1 && rn_classify(fd, &s) > 0)
            rn_cache_flags(fd, &s, F_OOBHEAD | (at ? F_OOBMARK : 0), at ? 0 : F_OOBMARK);
        errno = e;
        return 0;
    }
    if (f == 0 || (flags & (MSG_OOB | MSG_PEEK)))
        return 0;
    /* the first in-band read after it has passed or dropped it */
    int again = r < 0 && e == EAGAIN && (g_oob_quirks & RN_HELLO_OOB_STALL);
    if (rn_classify(fd, &s) > 0)
        rn_cache_flags(fd, &s, 0, F_OOBHEAD | F_OOBMARK);
    errno = e;
    return again;
}

