/* ipv6_rthdr: IPV6_RTHDR with a segment routing header (type 4, RFC 8754) is taken
 * when seg6_validate_srh accepts it; a Mobile IPv6 (type 2) or type 0 header as this
 * kernel's build takes them. */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <unistd.h>

#include "conformance.h"

/* an SRH with `segs` addresses, segments_left sl, first_segment fs, then tlv */
static size_t srh(unsigned char *b, int segs, int sl, int fs, int hdrlen, const unsigned char *tlv,
                  size_t tlen)
{
    size_t len = 8 + (size_t)segs * 16 + tlen;
    memset(b, 0, len);
    b[1] = (unsigned char)(hdrlen >= 0 ? hdrlen : (int)(len / 8) - 1);
    b[2] = 4;
    b[3] = (unsigned char)sl;
    b[4] = (unsigned char)fs;
    memcpy(b + 8 + segs * 16, tlv, tlen);
    return len;
}

static void try(const char *what, const unsigned char *b, size_t len)
{
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    show(what, setsockopt(s, IPPROTO_IPV6, IPV6_RTHDR, b, (socklen_t)len));
    unsigned char out[128];
    socklen_t ol = sizeof out;
    if (getsockopt(s, IPPROTO_IPV6, IPV6_RTHDR, out, &ol) == 0)
        printf("%-44s   read back %u bytes, type %d\n", what, (unsigned)ol, ol > 2 ? out[2] : -1);
    close(s);
}

int main(void)
{
    unsigned char b[128];
    static const unsigned char pad[8] = {4, 6}, bad[8] = {4, 9};
    try("SRH one segment", b, srh(b, 1, 0, 0, -1, NULL, 0));
    try("SRH two segments, segments_left 1", b, srh(b, 2, 1, 1, -1, NULL, 0));
    try("SRH segments_left > first_segment", b, srh(b, 2, 2, 1, -1, NULL, 0));
    try("SRH first_segment beyond the header", b, srh(b, 1, 0, 1, 2, NULL, 0));
    try("SRH with a PadN TLV", b, srh(b, 1, 0, 0, -1, pad, sizeof pad));
    try("SRH with a TLV past the end", b, srh(b, 1, 0, 0, -1, bad, sizeof bad));
    size_t n = srh(b, 1, 0, 0, -1, NULL, 0);
    memset(b + n, 0, 8);
    try("SRH shorter than the option", b, n + 8);
    memset(b, 0, 24);
    b[1] = 2;
    b[3] = 1;
    try("type 0", b, 24);
    b[2] = 2;
    try("type 2 (Mobile IPv6)", b, 24);
    return 0;
}
