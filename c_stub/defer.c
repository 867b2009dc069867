/* defer.c - socket options that travel with the call that needs them (rpc.c sends
 * them).
 *
 * A TCP socket this process made and that never connected is set up before it is
 * used: netperf's TCP_CRR client sets SO_SNDBUF, reads it back, sets SO_RCVBUF, reads
 * it back, sets SO_REUSEADDR, binds and connects, every time.  Options whose set
 * cannot fail on such a socket (int options, optlen >= 4; rn_protocol.h
 * RN_OP_SETOPTS) are kept here and sent with the socket's next RPC: inside the
 * request for bind/connect/listen (arg3 = their count, after the sockaddr), else as
 * one RN_OP_SETOPTS just before it.  The socket-level ones every socket has (SO_SNDBUF,
 * SO_RCVBUF, SO_REUSEADDR, SO_KEEPALIVE) are also set on A itself (control.c): the
 * kernel checks optval and optlen as for a TCP socket (the same sk_setsockopt), and a
 * SO_SNDBUF / SO_RCVBUF set here reads back from A, where the kernel doubled and
 * clamped it with the limits the host's model has (rocketnet.profile reads them from
 * this kernel).  A is shut and swapped at connect, so its own sizes never carry data.
 * The host offers no limits (HELLO arg0 = 0) where the kernel answers these options
 * differently from the stack's model; nothing is kept then.  A socket whose fd the program hands
 * on (dup2/dup3: to exec; SCM_RIGHTS) has its options sent first.  Not covered: an
 * exec that keeps such a socket's fd number without a dup, before any call on it.
 * Everything here is under g_lock. */
#include "internal.h"

struct rn_defer g_defer[RN_DEFER_SLOTS];
int g_defer_used;
int64_t g_keep_opts;

static int rn_deferrable(int level, int opt)
{
    if (level == SOL_SOCKET)
        return opt == SO_REUSEADDR || opt == SO_REUSEPORT || opt == SO_KEEPALIVE ||
               opt == SO_SNDBUF || opt == SO_RCVBUF;
    return level == IPPROTO_TCP && opt == TCP_NODELAY;
}

static struct rn_defer *rn_defer_find(uint32_t id)
{
    if (g_defer_used == 0)
        return NULL;
    for (int i = 0; i < RN_DEFER_SLOTS; i++)
        if (g_defer[i].id == id)
            return &g_defer[i];
    return NULL;
}

/* Keep setsockopt(level, opt, v) of socket id (lock held, control connection made).
 * 1: kept; 0: make the call. */
int rn_defer_keep(uint32_t id, int level, int opt, int32_t v)
{
    if (g_keep_opts == 0 || id == 0 || !rn_deferrable(level, opt))
        return 0;
    struct rn_defer *d = rn_defer_find(id);
    if (d == NULL) {
        for (int i = 0; i < RN_DEFER_SLOTS && d == NULL; i++)
            if (g_defer[i].id == 0)
                d = &g_defer[i];
        if (d == NULL)
            return 0;
        d->id = id;
        d->n = 0;
        d->bufs = 0;
        g_defer_used++;
    }
    uint32_t k = 0;
    while (k < d->n && !(d->o[k].level == level && d->o[k].optname == opt))
        k++;
    if (k == RN_DEFER_MAX)
        return 0;
    d->o[k].level = level;
    d->o[k].optname = opt;
    d->o[k].value = v;
    if (k == d->n)
        d->n++;
    if (level == SOL_SOCKET)
        d->bufs |= opt == SO_SNDBUF ? 1u : opt == SO_RCVBUF ? 2u : 0u;
    return 1;
}

/* Whether SOL_SOCKET opt (SO_SNDBUF / SO_RCVBUF) of socket id was set and kept here,
 * so that A holds its value (lock held). */
int rn_defer_readback(uint32_t id, int opt)
{
    struct rn_defer *d = rn_defer_find(id);
    unsigned bit = opt == SO_SNDBUF ? 1u : opt == SO_RCVBUF ? 2u : 0u;
    return d != NULL && (d->bufs & bit) != 0;
}

/* The options kept for id, copied into out (RN_DEFER_MAX entries): their count (lock
 * held).  They stay kept until rn_defer_drop. */
uint32_t rn_defer_peek(uint32_t id, struct rn_setopt *out)
{
    struct rn_defer *d = rn_defer_find(id);
    if (d == NULL)
        return 0;
    memcpy(out, d->o, d->n * sizeof *out);
    return d->n;
}

/* Forget the options kept for id: sent, or the socket is gone (lock held). */
void rn_defer_drop(uint32_t id)
{
    struct rn_defer *d = rn_defer_find(id);
    if (d == NULL)
        return;
    d->id = 0;
    g_defer_used--;
}

/* The socket's fd is closed: nothing to send for it any more. */
void rn_defer_forget(uint32_t id)
{
    if (__atomic_load_n(&g_defer_used, __ATOMIC_RELAXED) == 0 || rn_lock() < 0)
        return;
    rn_defer_drop(id);
    rn_unlock();
}
