/* uring.c - io_uring is refused, so programs fall back to the socket calls the stub
 * serves.
 *
 * An io_uring submission (IORING_OP_CONNECT, SEND, RECV, ACCEPT...) on a shim fd would
 * be executed by the kernel on the AF_UNIX end A, never reaching the stack: wrong
 * errnos (EINVAL for a connect) or bytes that bypass the stack.  So under the shim
 * io_uring does not exist, as on a kernel built without it: io_uring_setup fails with
 * ENOSYS, through syscall(SYS_io_uring_setup) and through liburing's entry points
 * (io_uring_queue_init, io_uring_queue_init_params, io_uring_setup: liburing >= 2.2
 * makes its system calls itself, so its exported functions are interposed; they return
 * -ENOSYS as liburing reports errors).  liburing users (and programs probing io_uring)
 * then use the ordinary calls.  A program that issues the raw system call inline
 * (without libc or an interposable liburing) is not caught.
 */
#include "internal.h"

long rn_uring_refused(void)
{
    errno = ENOSYS;
    return -1;
}

typedef int (*f_uring_init_t)(unsigned, void *, unsigned);
typedef int (*f_uring_init_params_t)(unsigned, void *, void *);
static void *g_real_uring[3];

static void *rn_uring_real(int i, const char *name)
{
    void *p = __atomic_load_n(&g_real_uring[i], __ATOMIC_ACQUIRE);
    if (p == NULL) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(&g_real_uring[i], p, __ATOMIC_RELEASE);
    }
    return p;
}

RN_EXPORT int rn_io_uring_queue_init(unsigned, void *, unsigned) __asm__("io_uring_queue_init");
int rn_io_uring_queue_init(unsigned entries, void *ring, unsigned flags)
{
    f_uring_init_t real = (f_uring_init_t)rn_uring_real(0, "io_uring_queue_init");
    if (g_enabled || real == NULL)
        return -ENOSYS;
    return real(entries, ring, flags);
}

RN_EXPORT int rn_io_uring_queue_init_params(unsigned, void *, void *)
    __asm__("io_uring_queue_init_params");
int rn_io_uring_queue_init_params(unsigned entries, void *ring, void *p)
{
    f_uring_init_params_t real =
        (f_uring_init_params_t)rn_uring_real(1, "io_uring_queue_init_params");
    if (g_enabled || real == NULL)
        return -ENOSYS;
    return real(entries, ring, p);
}

RN_EXPORT int rn_io_uring_setup(unsigned, void *) __asm__("io_uring_setup");
int rn_io_uring_setup(unsigned entries, void *p)
{
    typedef int (*f_t)(unsigned, void *);
    f_t real = (f_t)rn_uring_real(2, "io_uring_setup");
    if (g_enabled || real == NULL)
        return -ENOSYS;
    return real(entries, p);
}
