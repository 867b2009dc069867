/* alg_kat.c - AF_ALG known-answer tests, used the way libkcapi does: hash streaming
 * with MSG_MORE, ciphers with ALG_SET_OP/ALG_SET_IV control messages, AEAD with
 * ALG_SET_AEAD_ASSOCLEN and tag failure, error cases.  Expected values are the
 * published vectors (FIPS 180/202 examples, RFC 4231, FIPS-197, SP 800-38A,
 * IEEE 1619, McGrew-Viega GCM, RFC 3610, RFC 8439); the other checks are what Linux
 * 6.1 and 6.12 do (tools/vm runs this natively in those kernels and under the shim).
 * Reads ask for exactly the result's length: skcipher and aead recvmsg loop until the
 * buffer is full, so a larger blocking read waits for more input (algif_aead.c).
 * Prints "ok <name>" or "FAIL <name> ..." per check; exit status 1 on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_alg.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

static int failures;

static void check(int ok, const char *name, const char *why)
{
    if (ok)
        printf("ok %s\n", name);
    else {
        printf("FAIL %s %s\n", name, why);
        failures++;
    }
}

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

static int same(const unsigned char *got, size_t gl, const char *hex)
{
    unsigned char exp[512];
    size_t el = unhex(hex, exp);
    return gl == el && memcmp(got, exp, el) == 0;
}

/* socket + bind + optional key: the transform fd, or -errno */
static int tfm(const char *type, const char *name, const void *key, size_t keylen)
{
    struct sockaddr_alg sa;
    memset(&sa, 0, sizeof sa);
    sa.salg_family = AF_ALG;
    strncpy((char *)sa.salg_type, type, sizeof sa.salg_type - 1);
    strncpy((char *)sa.salg_name, name, sizeof sa.salg_name - 1);
    int fd = socket(AF_ALG, SOCK_SEQPACKET, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (key && setsockopt(fd, SOL_ALG, ALG_SET_KEY, key, (socklen_t)keylen) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* sendmsg with ALG_SET_OP, ALG_SET_IV (ivlen >= 0) and ALG_SET_AEAD_ASSOCLEN (assoclen >= 0) */
static ssize_t alg_sendmsg(int fd, int op, const unsigned char *iv, int ivlen, int assoclen,
                           const void *data, size_t n, int flags)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(4) + CMSG_SPACE(4 + 64) + CMSG_SPACE(4)];
    } u;
    memset(&u, 0, sizeof u);
    struct iovec v = {(void *)data, n};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    size_t cl = CMSG_SPACE(4);
    if (ivlen >= 0)
        cl += CMSG_SPACE(4 + (size_t)ivlen);
    if (assoclen >= 0)
        cl += CMSG_SPACE(4);
    m.msg_controllen = cl;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_ALG;
    c->cmsg_type = ALG_SET_OP;
    c->cmsg_len = CMSG_LEN(4);
    uint32_t o = (uint32_t)op;
    memcpy(CMSG_DATA(c), &o, 4);
    if (ivlen >= 0) {
        c = CMSG_NXTHDR(&m, c);
        c->cmsg_level = SOL_ALG;
        c->cmsg_type = ALG_SET_IV;
        c->cmsg_len = CMSG_LEN(4 + (size_t)ivlen);
        uint32_t l = (uint32_t)ivlen;
        memcpy(CMSG_DATA(c), &l, 4);
        memcpy(CMSG_DATA(c) + 4, iv, (size_t)ivlen);
    }
    if (assoclen >= 0) {
        c = CMSG_NXTHDR(&m, c);
        c->cmsg_level = SOL_ALG;
        c->cmsg_type = ALG_SET_AEAD_ASSOCLEN;
        c->cmsg_len = CMSG_LEN(4);
        uint32_t a = (uint32_t)assoclen;
        memcpy(CMSG_DATA(c), &a, 4);
    }
    return sendmsg(fd, &m, flags);
}

/* ---- hashes ------------------------------------------------------------------ */

static void hash_abc(const char *name, const char *digest)
{
    unsigned char out[128];
    int t = tfm("hash", name, NULL, 0);
    int op = t >= 0 ? accept(t, NULL, 0) : -1;
    ssize_t r = -1;
    if (op >= 0 && send(op, "a", 1, MSG_MORE) == 1 && send(op, "b", 1, MSG_MORE) == 1 &&
        write(op, "c", 1) == 1)
        r = read(op, out, sizeof out);
    char label[96];
    snprintf(label, sizeof label, "hash %s(\"abc\") streamed", name);
    check(r > 0 && same(out, (size_t)r, digest), label, strerror(errno));
    if (op >= 0)
        close(op);
    if (t >= 0)
        close(t);
}

static void hmac_kat(const char *name, const char *keyhex, const char *data, const char *mac)
{
    unsigned char key[256], out[128];
    size_t kl = unhex(keyhex, key);
    int t = tfm("hash", name, key, kl);
    int op = t >= 0 ? accept(t, NULL, 0) : -1;
    ssize_t r = -1;
    if (op >= 0 && send(op, data, strlen(data), 0) == (ssize_t)strlen(data))
        r = recv(op, out, sizeof out, 0);
    char label[96];
    snprintf(label, sizeof label, "RFC 4231 %s \"%.8s\"", name, data);
    check(r > 0 && same(out, (size_t)r, mac), label, strerror(errno));
    if (op >= 0)
        close(op);
    if (t >= 0)
        close(t);
}

static void hash_extras(void)
{
    unsigned char out[64];
    int t = tfm("hash", "sha256-generic", NULL, 0);
    int a = accept(t, NULL, 0), b = accept(t, NULL, 0);
    /* two operation sockets of one transform are independent */
    send(a, "ab", 2, MSG_MORE);
    send(b, "xyz", 3, 0);
    send(a, "c", 1, 0);
    ssize_t r = read(a, out, sizeof out);
    check(r == 32 && same(out, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
          "sha256 two operation sockets interleaved (a)", strerror(errno));
    r = read(b, out, sizeof out);
    check(r == 32 && same(out, 32, "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282"),
          "sha256 two operation sockets interleaved (b)", strerror(errno));
    /* a read with nothing sent: the digest of the empty message */
    r = read(a, out, sizeof out);
    check(r == 32 && same(out, 32, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
          "sha256 empty message", strerror(errno));
    /* a short buffer truncates the digest (MSG_TRUNC) */
    send(a, "abc", 3, 0);
    struct iovec v = {out, 8};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    r = recvmsg(a, &m, 0);
    check(r == 8 && (m.msg_flags & MSG_TRUNC) && same(out, 8, "ba7816bf8f01cfea"),
          "sha256 truncated read sets MSG_TRUNC", strerror(errno));
    /* algif_hash has no poll method: sock_poll reports no events at all */
    struct pollfd p = {a, POLLIN | POLLOUT, 0};
    check(poll(&p, 1, 0) == 0 && p.revents == 0, "hash operation socket polls no events",
          strerror(errno));
    p.fd = t; /* the transform socket (af_alg's own proto_ops) has none either */
    check(poll(&p, 1, 0) == 0 && p.revents == 0, "transform socket polls no events",
          strerror(errno));
    close(a);
    close(b);
    close(t);
    int h = tfm("hash", "hmac(sha256)", NULL, 0);
    a = accept(h, NULL, 0);
    errno = 0;
    check(send(a, "abc", 3, 0) < 0 && errno == ENOKEY, "hmac without a key: ENOKEY", "");
    close(a);
    close(h);
}

/* ---- skciphers -------------------------------------------------------------- */

static void sk_kat(const char *name, const char *keyhex, const char *ivhex, const char *pthex,
                   const char *cthex)
{
    unsigned char key[64], iv[16], pt[256], out[256];
    size_t kl = unhex(keyhex, key), il = unhex(ivhex, iv), pl = unhex(pthex, pt);
    int t = tfm("skcipher", name, key, kl);
    int op = t >= 0 ? accept(t, NULL, 0) : -1;
    ssize_t r = -1;
    char label[96];
    if (op >= 0 && alg_sendmsg(op, ALG_OP_ENCRYPT, iv, il ? (int)il : -1, -1, pt, pl, 0) ==
                       (ssize_t)pl)
        r = read(op, out, pl);
    snprintf(label, sizeof label, "%s encrypt", name);
    check(r == (ssize_t)pl && same(out, pl, cthex), label, strerror(errno));
    unsigned char ct[256];
    size_t cl = unhex(cthex, ct);
    r = -1;
    if (op >= 0 && alg_sendmsg(op, ALG_OP_DECRYPT, iv, il ? (int)il : -1, -1, ct, cl, 0) ==
                       (ssize_t)cl)
        r = read(op, out, cl);
    snprintf(label, sizeof label, "%s decrypt", name);
    check(r == (ssize_t)pl && memcmp(out, pt, pl) == 0, label, strerror(errno));
    if (op >= 0)
        close(op);
    if (t >= 0)
        close(t);
}

static void sk_errors(void)
{
    unsigned char key[16] = {0}, iv[16] = {0}, buf[32] = {0}, out[16];
    int t = tfm("skcipher", "cbc(aes)", key, 16);
    int op = accept(t, NULL, 0);
    /* af_alg_poll: readable with no MSG_MORE pending, writable with send buffer room */
    struct pollfd p = {op, POLLIN | POLLOUT, 0};
    check(poll(&p, 1, 0) == 1 && p.revents == (POLLIN | POLLOUT),
          "skcipher operation socket polls POLLIN|POLLOUT", strerror(errno));
    errno = 0;
    alg_sendmsg(op, ALG_OP_ENCRYPT, iv, 16, -1, buf, 15, 0);
    check(read(op, buf, 15) < 0 && errno == EINVAL, "cbc(aes) unaligned length: EINVAL", "");
    errno = 0;
    check(alg_sendmsg(op, ALG_OP_ENCRYPT, iv, 8, -1, buf, 16, 0) < 0 && errno == EINVAL,
          "cbc(aes) 8-byte IV: EINVAL", "");
    /* the transform's key is fixed while an operation socket uses it (alg_setsockopt) */
    errno = 0;
    check(setsockopt(t, SOL_ALG, ALG_SET_KEY, key, 16) < 0 && errno == EBUSY,
          "setkey with an operation socket open: EBUSY", "");
    close(op);
    errno = 0;
    check(setsockopt(t, SOL_ALG, ALG_SET_KEY, key, 15) < 0 && errno == EINVAL,
          "aes 15-byte key: EINVAL", "");
    /* crypto_skcipher_setkey refuses a bad length before it drops the old key */
    op = accept(t, NULL, 0);
    check(op >= 0 && alg_sendmsg(op, ALG_OP_ENCRYPT, iv, 16, -1, buf, 16, 0) == 16 &&
              read(op, out, 16) == 16, "cbc(aes) keeps its key after a bad length",
          strerror(errno));
    /* MSG_MORE streams input: two sends, one result */
    alg_sendmsg(op, ALG_OP_ENCRYPT, iv, 16, -1, buf, 16, MSG_MORE);
    send(op, buf + 16, 16, 0);
    check(read(op, buf, 32) == 32 && same(buf, 16, "66e94bd4ef8a2c3b884cfa59ca342b2e") &&
              same(buf + 16, 16, "f795bd4a52e29ed713d313fa20e98dbc"),
          "cbc(aes) MSG_MORE chained blocks", strerror(errno));
    close(op);
    close(t);
}

/* ---- AEAD ------------------------------------------------------------------- */

/* encrypt assoc||pt, expect assoc||ct||tag; decrypt back; flip a bit: EBADMSG */
static void aead_kat(const char *label, const char *name, const char *keyhex, int authsize,
                     const char *ivhex, const char *aadhex, const char *pthex, const char *exphex)
{
    unsigned char key[64], iv[16], in[512], out[512], exp[512];
    size_t kl = unhex(keyhex, key), il = unhex(ivhex, iv);
    size_t al = unhex(aadhex, in);
    size_t pl = unhex(pthex, in + al);
    size_t el = unhex(exphex, exp);
    int t = tfm("aead", name, key, kl);
    if (t >= 0 && authsize)
        setsockopt(t, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, (socklen_t)authsize);
    int op = t >= 0 ? accept(t, NULL, 0) : -1;
    ssize_t r = -1;
    char l2[128];
    if (op >= 0 && alg_sendmsg(op, ALG_OP_ENCRYPT, iv, (int)il, (int)al, in, al + pl, 0) >= 0)
        r = read(op, out, al + el);
    snprintf(l2, sizeof l2, "%s encrypt", label);
    check(r == (ssize_t)(al + el) && memcmp(out, in, al) == 0 && memcmp(out + al, exp, el) == 0,
          l2, strerror(errno));
    /* decrypt: the output buffer is assoc + plaintext */
    r = -1;
    if (op >= 0 && alg_sendmsg(op, ALG_OP_DECRYPT, iv, (int)il, (int)al, out, al + el, 0) >= 0)
        r = read(op, out + 256, al + pl);
    snprintf(l2, sizeof l2, "%s decrypt", label);
    check(r == (ssize_t)(al + pl) && memcmp(out + 256 + al, in + al, pl) == 0, l2,
          strerror(errno));
    out[al + el - 1] ^= 1;
    errno = 0;
    r = 0;
    if (op >= 0 && alg_sendmsg(op, ALG_OP_DECRYPT, iv, (int)il, (int)al, out, al + el, 0) >= 0)
        r = read(op, out + 256, al + pl);
    snprintf(l2, sizeof l2, "%s bad tag: EBADMSG", label);
    check(r < 0 && errno == EBADMSG, l2, strerror(errno));
    if (op >= 0)
        close(op);
    if (t >= 0)
        close(t);
}

/* one AEAD encryption through the socket API: out = assoc || ct || tag (outlen bytes) */
static ssize_t aead_once(const char *name, const unsigned char *key, size_t kl, int authsize,
                         const unsigned char *iv, int il, const unsigned char *in, size_t al,
                         size_t n, unsigned char *out, size_t outlen)
{
    int t = tfm("aead", name, key, kl);
    if (t < 0)
        return -1;
    if (authsize)
        setsockopt(t, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, (socklen_t)authsize);
    int op = accept(t, NULL, 0);
    ssize_t r = -1;
    if (alg_sendmsg(op, ALG_OP_ENCRYPT, iv, il, (int)al, in, n, 0) >= 0)
        r = read(op, out, outlen);
    close(op);
    close(t);
    return r;
}

static void aead_derived(void)
{
    unsigned char key[64], iv[16], in[128], a[256], b[256];
    /* rfc4106(gcm(aes)) == gcm(aes) with nonce salt||iv over the AAD without the IV */
    size_t kl = unhex("feffe9928665731c6d6a8f9467308308cafebabe", key);
    unhex("facedbaddecaf888", iv);
    memcpy(in, "\x00\x00\x43\x21\x87\x65\x43\x21", 8); /* SPI + sequence number */
    memcpy(in + 8, iv, 8);
    memset(in + 16, 0x5a, 48);
    ssize_t r1 = aead_once("rfc4106(gcm(aes))", key, kl, 0, iv, 8, in, 16, 64, a, 80);
    unsigned char g[128], nonce[12];
    memcpy(g, in, 8);
    memcpy(g + 8, in + 16, 48);
    memcpy(nonce, key + 16, 4);
    memcpy(nonce + 4, iv, 8);
    ssize_t r2 = aead_once("gcm(aes)", key, 16, 0, nonce, 12, g, 8, 56, b, 72);
    check(r1 == 80 && r2 == 72 && memcmp(a, in, 16) == 0 && memcmp(a + 16, b + 8, 64) == 0,
          "rfc4106(gcm(aes)) = gcm(aes) with salt||iv", strerror(errno));
    /* authenc(hmac(sha256),cbc(aes)): SP 800-38A CBC ciphertext, HMAC-SHA256 tag over
     * assoc || ciphertext (both primitives checked above) */
    unsigned char k2[128];
    memcpy(k2, "\x08\x00\x01\x00\x00\x00\x00\x10", 8);
    memset(k2 + 8, 0x0b, 20);
    unhex("2b7e151628aed2a6abf7158809cf4f3c", k2 + 28);
    unhex("000102030405060708090a0b0c0d0e0f", iv);
    memcpy(in, "assoc-8b", 8);
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51", in + 8);
    r1 = aead_once("authenc(hmac(sha256),cbc(aes))", k2, 44, 0, iv, 16, in, 8, 40, a, 72);
    int ok = r1 == 8 + 32 + 32 &&
             same(a + 8, 32, "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    int h = tfm("hash", "hmac(sha256)", k2 + 8, 20);
    int op = accept(h, NULL, 0);
    send(op, a, 40, 0);
    ok = ok && read(op, b, 32) == 32 && memcmp(a + 40, b, 32) == 0;
    close(op);
    close(h);
    check(ok, "authenc(hmac(sha256),cbc(aes)) = cbc(aes) then hmac(sha256)", strerror(errno));
    unsigned char bad[9] = {9, 0, 1, 0, 0, 0, 0, 0, 0};
    int t = tfm("aead", "authenc(hmac(sha256),cbc(aes))", NULL, 0);
    errno = 0;
    check(setsockopt(t, SOL_ALG, ALG_SET_KEY, bad, sizeof bad) < 0 && errno == EINVAL,
          "authenc malformed rtattr key: EINVAL", "");
    errno = 0;
    check(setsockopt(t, SOL_ALG, ALG_SET_AEAD_AUTHSIZE, NULL, 33) < 0 && errno == EINVAL,
          "authenc tag size 33: EINVAL", "");
    close(t);
}

/* ---- names, rng ------------------------------------------------------------- */

static void names(void)
{
    check(tfm("hash", "no-such-hash", NULL, 0) == -ENOENT, "unknown hash: ENOENT", "");
    /* a template refuses an argument that exists but does not fit it: EINVAL on 6.12,
     * ENOENT on 6.1, so the label names the errno and the shim must give the same */
    int e = tfm("hash", "hmac(hmac(sha256))", NULL, 0);
    char label[64];
    snprintf(label, sizeof label, "hmac(hmac(sha256)) refused: %s", strerrorname_np(-e));
    check(e == -EINVAL || e == -ENOENT, label, "");
    check(tfm("no-such-type", "sha256", NULL, 0) == -ENOENT, "unknown type: ENOENT", "");
    e = tfm("aead", "rfc7539(chacha20,sha256)", NULL, 0);
    snprintf(label, sizeof label, "rfc7539(chacha20,sha256) refused: %s", strerrorname_np(-e));
    check(e == -EINVAL || e == -ENOENT, label, "");
    int t = tfm("skcipher", "cbc(aes-generic)", NULL, 0);
    check(t >= 0, "driver name cbc(aes-generic) resolves", strerror(-t));
    if (t >= 0)
        close(t);
    unsigned char buf[256] = {0};
    t = tfm("rng", "stdrng", NULL, 0);
    int op = t >= 0 ? accept(t, NULL, 0) : -1;
    errno = 0;
    /* algif_rng never seeds the DRBG: reads fail until ALG_SET_KEY gives a seed */
    check(op >= 0 && read(op, buf, 16) < 0 && errno == EINVAL, "stdrng unseeded: EINVAL", "");
    if (op >= 0)
        close(op);
    if (t >= 0 && setsockopt(t, SOL_ALG, ALG_SET_KEY, buf, 32) == 0)
        op = accept(t, NULL, 0);
    check(op >= 0 && read(op, buf, 16) == 16 && read(op, buf, 256) == 128,
          "stdrng seeded reads (at most 128 bytes each)", strerror(errno));
    if (op >= 0)
        close(op);
    if (t >= 0)
        close(t);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    hash_abc("md5", "900150983cd24fb0d6963f7d28e17f72");
    hash_abc("sha1", "a9993e364706816aba3e25717850c26c9cd0d89d");
    hash_abc("sha224", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
    hash_abc("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_abc("sha384", "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
                       "8086072ba1e7cc2358baeca134c825a7");
    hash_abc("sha512", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    hash_abc("sha3-224", "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf");
    hash_abc("sha3-256", "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532");
    hash_abc("sha3-384", "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2"
                         "98d88cea927ac7f539f1edf228376d25");
    hash_abc("sha3-512", "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
                         "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0");
    hash_abc("blake2b-512", "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                            "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    hash_abc("crc32c", "b73f4b36");
    hmac_kat("hmac(sha256)", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_kat("hmac(sha512)", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
             "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
             "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
    hmac_kat("hmac(sha256)", "4a656665", "what do ya want for nothing?",
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    hash_extras();
    sk_kat("ecb(aes)", "000102030405060708090a0b0c0d0e0f", "", "00112233445566778899aabbccddeeff",
           "69c4e0d86a7b0430d8cdb78070b4c55a");
    sk_kat("cbc(aes)", "2b7e151628aed2a6abf7158809cf4f3c", "000102030405060708090a0b0c0d0e0f",
           "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
           "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    sk_kat("ctr(aes)", "2b7e151628aed2a6abf7158809cf4f3c", "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
           "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
           "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
    sk_kat("xts(aes)", "1111111111111111111111111111111122222222222222222222222222222222",
           "33333333330000000000000000000000",
           "4444444444444444444444444444444444444444444444444444444444444444",
           "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0");
    sk_kat("chacha20", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
           "01000000000000000000004a00000000",
           "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a"
           "204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074"
           "6865206675747572652c2073756e73637265656e20776f756c642062652069742e",
           "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f"
           "593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52"
           "bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d");
    sk_errors();
    aead_kat("gcm(aes) test case 2", "gcm(aes)", "00000000000000000000000000000000", 0,
             "000000000000000000000000", "", "00000000000000000000000000000000",
             "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
    aead_kat("gcm(aes) test case 4", "gcm(aes)", "feffe9928665731c6d6a8f9467308308", 0,
             "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
             "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c9595680953"
             "2fcf0e2449a6b525b16aedf5aa0de657ba637b39",
             "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c"
             "7d8f6a5aac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47");
    aead_kat("RFC 3610 ccm(aes) packet 1", "ccm(aes)", "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf", 8,
             "0100000003020100a0a1a2a3a4a50000", "0001020304050607",
             "08090a0b0c0d0e0f101112131415161718191a1b1c1d1e",
             "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0");
    aead_kat("RFC 8439 2.8.2 rfc7539(chacha20,poly1305)", "rfc7539(chacha20,poly1305)",
             "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", 0,
             "070000004041424344454647", "50515253c0c1c2c3c4c5c6c7",
             "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a"
             "204966204920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f722074"
             "6865206675747572652c2073756e73637265656e20776f756c642062652069742e",
             "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
             "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
             "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
             "1ae10b594f09e26a7e902ecbd0600691");
    aead_derived();
    names();
    printf("%d failures\n", failures);
    return failures != 0;
}
