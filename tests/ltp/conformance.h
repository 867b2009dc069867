/* conformance.h: what every differential conformance program prints with.  The output
 * of a program natively and under rocketnet must be identical, so print results and
 * errno names only, never anything that varies from run to run. */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "what = result" or "what = -1 ERRNONAME"; flushed, so forked children never repeat it */
static inline void show(const char *what, long ret)
{
    if (ret < 0)
        printf("%-44s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-44s = %ld\n", what, ret);
    fflush(stdout);
}

#endif
