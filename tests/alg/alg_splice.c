/* alg_splice: input spliced into an AF_ALG hash operation socket.  SPLICE_F_MORE
 * keeps the hash open as MSG_MORE does (a splice without it ends the input), and
 * sendfile hands the whole range as one input (Linux sets SPLICE_F_MORE on all but
 * the last part).  Prints each digest. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/if_alg.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "../ltp/conformance.h"

#define N 100000

static unsigned char data[N];

static int op_socket(void)
{
    struct sockaddr_alg sa = {.salg_family = AF_ALG, .salg_type = "hash", .salg_name = "sha256"};
    int t = socket(AF_ALG, SOCK_SEQPACKET, 0);
    if (t < 0 || bind(t, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    return accept(t, NULL, NULL);
}

static void digest(const char *what, int op)
{
    unsigned char d[32];
    ssize_t r = read(op, d, sizeof d);
    printf("%-36s = ", what);
    if (r < 0)
        printf("-1 %s", strerrorname_np(errno));
    for (ssize_t i = 0; i < r; i++)
        printf("%02x", d[i]);
    printf("\n");
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < N; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    int op = op_socket();
    if (op < 0) {
        show("AF_ALG sha256", -1);
        return 0;
    }
    /* pieces through a pipe: SPLICE_F_MORE on all but the last */
    int p[2];
    show("pipe", pipe(p));
    size_t off = 0, piece[] = {3000, 40000, 1, 56999};
    for (int k = 0; k < 4; k++) {
        write(p[1], data + off, piece[k]);
        off += piece[k];
        char what[48];
        snprintf(what, sizeof what, "splice %zu%s", piece[k], k < 3 ? " SPLICE_F_MORE" : "");
        show(what, splice(p[0], NULL, op, NULL, piece[k], k < 3 ? SPLICE_F_MORE : 0));
    }
    digest("digest after splices", op);

    /* a splice with SPLICE_F_MORE, then send ends the input */
    write(p[1], data, 5000);
    show("splice 5000 SPLICE_F_MORE", splice(p[0], NULL, op, NULL, 5000, SPLICE_F_MORE));
    show("send rest", send(op, data + 5000, N - 5000, 0));
    digest("digest after splice + send", op);

    /* sendfile of a whole file: one input */
    char path[] = "/tmp/alg_spliceXXXXXX";
    int f = mkstemp(path);
    unlink(path);
    write(f, data, N);
    off_t fo = 0;
    show("sendfile", sendfile(op, f, &fo, N));
    printf("sendfile offset after = %lld\n", (long long)fo);
    digest("digest after sendfile", op);

    /* sendfile from the file position, asking more than there is */
    lseek(f, 1000, SEEK_SET);
    show("sendfile NULL offset", sendfile(op, f, NULL, 2 * N));
    printf("file position after = %lld\n", (long long)lseek(f, 0, SEEK_CUR));
    digest("digest after sendfile to EOF", op);
    return 0;
}
