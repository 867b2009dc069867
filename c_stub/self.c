/* self.c - this process's pid without a system call per use.
 *
 * The stub compares its pid on every control RPC and safe copy (a forked child makes
 * its own control connection).  The pid is kept in a page marked MADV_WIPEONFORK: the
 * child of a fork() or of a clone() without CLONE_VM sees that page zeroed, so a
 * non-zero value there is always this process's own pid, and zero means: ask the
 * kernel once.  (A vfork child shares the page as it shares all memory: internal.h's vfork
 * note.)  Where MADV_WIPEONFORK is missing (Linux < 4.14) every call asks the kernel. */
#include "internal.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static pid_t *g_self_page; /* NULL: no wipe-on-fork page, getpid() every time */

void rn_self_init(void)
{
    long psz = sysconf(_SC_PAGESIZE);
    size_t n = psz > 0 ? (size_t)psz : 4096;
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return;
    if (madvise(p, n, MADV_WIPEONFORK) != 0) {
        munmap(p, n);
        return;
    }
    g_self_page = p;
}

pid_t rn_getpid(void)
{
    pid_t *page = g_self_page;
    if (page == NULL)
        return getpid();
    pid_t pid = __atomic_load_n(page, __ATOMIC_RELAXED);
    if (pid <= 0) {
        pid = getpid();
        __atomic_store_n(page, pid, __ATOMIC_RELAXED);
    }
    return pid;
}
