/* epint.c - epoll interests of TCP shim fds, carried over when A is replaced.
 *
 * An epoll interest belongs to the open file.  RN_OP_REOPEN puts a fresh A on a TCP
 * socket's fd number (the first connect of a socket, a connect after a failed one):
 * the kernel then drops the old file's interests, where Linux keeps the socket's.  The
 * epoll_ctl interposer records, per TCP shim fd, the epoll sets watching it with the
 * events and data last given; rn_install adds the new A to them.  Two sets per fd
 * (one is the rule); a third replaces the oldest.  Lock-free: a slot is its key word
 * (epfd + 1, events), its data word and the epoll fd's inode (a closed and reused epfd
 * number is not the same set), the key written last. */
#include "internal.h"

#define RN_EPINT_SLOTS 2
struct rn_epint {
    uint64_t key;  /* (epfd + 1) << 32 | events; 0 = empty */
    uint64_t data;
    uint64_t epino;
};
static struct rn_epint g_epint[RN_CACHE_N][RN_EPINT_SLOTS];
static int g_epint_top; /* 1 + the highest fd number ever given a slot */

int rn_epint_tracked(int fd)
{
    if (!g_enabled || fd < 0 || fd >= RN_CACHE_N)
        return 0;
    uint64_t i = __atomic_load_n(&g_cache[fd].info, __ATOMIC_RELAXED);
    return INFO_STATE(i) == ST_SHIM && INFO_KIND(i) == RN_KIND_STREAM;
}

/* after a successful epoll_ctl(epfd, op, fd, ev) on a TCP shim fd */
void rn_epint_note(int epfd, int op, int fd, const struct epoll_event *ev)
{
    if (!rn_epint_tracked(fd) || epfd < 0)
        return;
    struct rn_epint *e = g_epint[fd];
    uint64_t want = (uint64_t)(uint32_t)(epfd + 1) << 32;
    int k = RN_EPINT_SLOTS - 1; /* the slot to write: epfd's own, else a free one, else the last */
    for (int j = RN_EPINT_SLOTS - 1; j >= 0; j--) {
        uint64_t key = __atomic_load_n(&e[j].key, __ATOMIC_ACQUIRE);
        if ((key & ~0xffffffffULL) == want) {
            k = j;
            break;
        }
        if (key == 0)
            k = j;
    }
    struct epoll_event v;
    if (op == EPOLL_CTL_DEL || ev == NULL || rn_copy_in(&v, ev, sizeof v) < 0) {
        if ((__atomic_load_n(&e[k].key, __ATOMIC_ACQUIRE) & ~0xffffffffULL) == want)
            __atomic_store_n(&e[k].key, 0, __ATOMIC_RELEASE);
        return;
    }
    if (k == RN_EPINT_SLOTS - 1 && (__atomic_load_n(&e[k].key, __ATOMIC_ACQUIRE) &
                                    ~0xffffffffULL) != want) {
        /* a new set and no free slot: the oldest gives way */
        for (int j = 0; j + 1 < RN_EPINT_SLOTS; j++) {
            __atomic_store_n(&e[j].data, __atomic_load_n(&e[j + 1].data, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
            __atomic_store_n(&e[j].epino, __atomic_load_n(&e[j + 1].epino, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
            __atomic_store_n(&e[j].key, __atomic_load_n(&e[j + 1].key, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELEASE);
        }
    }
    struct stat st;
    if (fstat(epfd, &st) < 0)
        return;
    __atomic_store_n(&e[k].data, v.data.u64, __ATOMIC_RELEASE);
    __atomic_store_n(&e[k].epino, (uint64_t)st.st_ino, __ATOMIC_RELEASE);
    __atomic_store_n(&e[k].key, want | v.events, __ATOMIC_RELEASE);
    int top = __atomic_load_n(&g_epint_top, __ATOMIC_RELAXED);
    while (top <= fd && !__atomic_compare_exchange_n(&g_epint_top, &top, fd + 1, 0,
                                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

/* The next fd >= from that epoll set epfd watches with this data word, or -1. */
int rn_epint_find(int epfd, uint64_t data, int from)
{
    uint64_t want = (uint64_t)(uint32_t)(epfd + 1) << 32;
    int top = __atomic_load_n(&g_epint_top, __ATOMIC_RELAXED);
    for (int fd = from < 0 ? 0 : from; fd < top; fd++) {
        for (int j = 0; j < RN_EPINT_SLOTS; j++) {
            uint64_t key = __atomic_load_n(&g_epint[fd][j].key, __ATOMIC_ACQUIRE);
            if ((key & ~0xffffffffULL) == want &&
                __atomic_load_n(&g_epint[fd][j].data, __ATOMIC_ACQUIRE) == data)
                return fd;
        }
    }
    return -1;
}

/* fd's number now holds a fresh A: put it in the epoll sets that watched the old one */
void rn_epint_carry(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    f_epoll_ctl_t real = (f_epoll_ctl_t)rn_sym(&g_real_epoll_ctl, "epoll_ctl");
    for (int j = 0; j < RN_EPINT_SLOTS; j++) {
        uint64_t key = __atomic_load_n(&g_epint[fd][j].key, __ATOMIC_ACQUIRE);
        if (key == 0)
            continue;
        struct epoll_event v;
        v.events = (uint32_t)key;
        v.data.u64 = __atomic_load_n(&g_epint[fd][j].data, __ATOMIC_ACQUIRE);
        int epfd = (int)(key >> 32) - 1, saved = errno;
        struct stat st;
        if (fstat(epfd, &st) < 0 ||
            (uint64_t)st.st_ino != __atomic_load_n(&g_epint[fd][j].epino, __ATOMIC_ACQUIRE) ||
            (real(epfd, EPOLL_CTL_ADD, fd, &v) < 0 && errno != EEXIST))
            __atomic_store_n(&g_epint[fd][j].key, 0, __ATOMIC_RELEASE); /* set gone */
        errno = saved;
    }
}

/* a closed fd number watches nothing */
void rn_epint_forget(int fd)
{
    if (fd < 0 || fd >= RN_CACHE_N)
        return;
    for (int j = 0; j < RN_EPINT_SLOTS; j++)
        __atomic_store_n(&g_epint[fd][j].key, 0, __ATOMIC_RELAXED);
}
