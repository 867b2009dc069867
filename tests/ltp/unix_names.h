/* unix_names.h: AF_UNIX addresses for the unix_*.c conformance programs: abstract names
 * made unique per run with `tag` (set it from the pid first), and filesystem paths; both
 * with the address length Linux expects. */
#ifndef UNIX_NAMES_H
#define UNIX_NAMES_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static char tag[32];

static inline socklen_t abstract(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s-%s", tag, name);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

static inline socklen_t path(struct sockaddr_un *a, const char *p)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    strcpy(a->sun_path, p);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1);
}

#endif
