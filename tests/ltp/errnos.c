/* errnos: argument checks and error paths of TCP sockets whose errno Linux defines:
 * bad socklen, unknown levels and options, MSG_ERRQUEUE, sending on an unconnected
 * socket (EPIPE + SIGPIPE), and a socket staying usable after a failed connect.
 * Prints return values, errno names and signal counts only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conformance.h"

static volatile sig_atomic_t g_pipes;

static void on_pipe(int sig)
{
    (void)sig;
    g_pipes++;
}

/* a port nobody listens on: bound (not listening) by `holder` */
static unsigned short closed_port(int holder)
{
    struct sockaddr_in a = v4("127.0.0.1", 0);
    socklen_t l = sizeof a;
    bind(holder, (struct sockaddr *)&a, sizeof a);
    getsockname(holder, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_pipe;
    sigaction(SIGPIPE, &sa, NULL);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = v4("127.0.0.1", 0);
    show("bind(127.0.0.1:0)", bind(fd, (struct sockaddr *)&a, sizeof a));

    /* getsockname/getpeername: a negative length is EINVAL */
    struct sockaddr_storage ss;
    socklen_t len = (socklen_t)-1;
    show("getsockname(len=-1)", getsockname(fd, (struct sockaddr *)&ss, &len));
    len = (socklen_t)-1;
    show("getpeername(len=-1) unconnected", getpeername(fd, (struct sockaddr *)&ss, &len));
    len = 0;
    show("getsockname(len=0)", getsockname(fd, (struct sockaddr *)&ss, &len));
    printf("len after = %u\n", (unsigned)len);

    /* getsockopt / setsockopt levels and names */
    int v = 1;
    socklen_t vl = sizeof v;
    show("getsockopt(level 500)", getsockopt(fd, 500, SO_OOBINLINE, &v, &vl));
    vl = sizeof v;
    show("getsockopt(IPPROTO_UDP, SO_OOBINLINE)", getsockopt(fd, IPPROTO_UDP, SO_OOBINLINE, &v, &vl));
    vl = sizeof v;
    show("getsockopt(IPPROTO_IP, -1)", getsockopt(fd, IPPROTO_IP, -1, &v, &vl));
    vl = sizeof v;
    show("getsockopt(IPPROTO_TCP, -1)", getsockopt(fd, IPPROTO_TCP, -1, &v, &vl));
    vl = sizeof v;
    show("getsockopt(SOL_SOCKET, -1)", getsockopt(fd, SOL_SOCKET, -1, &v, &vl));
    vl = sizeof v;
    show("getsockopt(IPPROTO_IPV6, IPV6_V6ONLY) on v4", getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl));
    show("setsockopt(level 500)", setsockopt(fd, 500, SO_OOBINLINE, &v, sizeof v));
    show("setsockopt(IPPROTO_UDP, 1)", setsockopt(fd, IPPROTO_UDP, 1, &v, sizeof v));
    show("setsockopt(IPPROTO_IP, -1)", setsockopt(fd, IPPROTO_IP, -1, &v, sizeof v));
    show("setsockopt(IPPROTO_TCP, -1)", setsockopt(fd, IPPROTO_TCP, -1, &v, sizeof v));

    /* an empty error queue */
    char buf[16];
    show("recv(MSG_ERRQUEUE) unconnected", recv(fd, buf, sizeof buf, MSG_ERRQUEUE));
    show("recv(MSG_ERRQUEUE|MSG_DONTWAIT)", recv(fd, buf, sizeof buf, MSG_ERRQUEUE | MSG_DONTWAIT));
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    struct msghdr mh;
    struct iovec iov = {buf, sizeof buf};
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    show("recvmsg(MSG_ERRQUEUE)", recvmsg(fd, &mh, MSG_ERRQUEUE));
    mh.msg_name = &ss;
    mh.msg_namelen = (socklen_t)-1;
    show("recvmsg(flags -1, namelen -1)", recvmsg(fd, &mh, -1));
    mh.msg_namelen = sizeof ss;
    mh.msg_iovlen = 1025;
    show("recvmsg(MSG_ERRQUEUE, iovlen 1025)", recvmsg(fd, &mh, MSG_ERRQUEUE));
    show("recvmsg(MSG_ERRQUEUE, bad msghdr)", recvmsg(fd, (struct msghdr *)8, MSG_ERRQUEUE));
    show("recvfrom(MSG_ERRQUEUE)", recvfrom(fd, buf, sizeof buf, MSG_ERRQUEUE, (struct sockaddr *)&from, &fl));

    /* sending on a socket that never connected: EPIPE, SIGPIPE unless MSG_NOSIGNAL */
    g_pipes = 0;
    show("send() unconnected", send(fd, "x", 1, 0));
    show("sendto(addr) unconnected", sendto(fd, "x", 1, 0, (struct sockaddr *)&a, sizeof a));
    show("send(MSG_NOSIGNAL) unconnected", send(fd, "x", 1, MSG_NOSIGNAL));
    show("write() unconnected", write(fd, "x", 1));
    printf("SIGPIPE count = %d\n", (int)g_pipes);
    close(fd);

    /* a failed connect leaves the socket usable, and errno checks come first */
    int holder = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in refused = v4("127.0.0.1", closed_port(holder));
    int s = socket(AF_INET, SOCK_STREAM, 0);
    show("connect(refused)", connect(s, (struct sockaddr *)&refused, sizeof refused));
    vl = sizeof v;
    v = -1;
    show("getsockopt(SO_ERROR) after refused", getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &vl));
    printf("SO_ERROR = %d\n", v);
    struct sockaddr_in bad = v4("127.0.0.1", 1);
    bad.sin_family = 47;
    show("connect(family 47) after refused", connect(s, (struct sockaddr *)&bad, sizeof bad));
    show("syscall(connect, family 47)", syscall(__NR_connect, s, &bad, sizeof bad));
    show("connect(len 3) after refused", connect(s, (struct sockaddr *)&refused, 3));
    show("connect(refused) again", connect(s, (struct sockaddr *)&refused, sizeof refused));
    vl = sizeof v;
    v = -1;
    show("getsockopt(SO_REUSEADDR) after refused", getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &vl));
    printf("SO_REUSEADDR = %d\n", v);
    show("getpeername() after refused", getpeername(s, (struct sockaddr *)&ss, &(socklen_t){sizeof ss}));
    int lst = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = v4("127.0.0.1", 0);
    socklen_t ll = sizeof la;
    bind(lst, (struct sockaddr *)&la, sizeof la);
    getsockname(lst, (struct sockaddr *)&la, &ll);
    show("listen", listen(lst, 4));
    show("connect(listener) after refused", connect(s, (struct sockaddr *)&la, sizeof la));
    int c = accept(lst, NULL, NULL);
    show("accept >= 0", c < 0 ? -1 : 0);
    show("send after reconnect", send(s, "hello", 5, 0));
    memset(buf, 0, sizeof buf);
    show("recv on accepted", recv(c, buf, sizeof buf, 0));
    printf("got \"%s\"\n", buf);
    close(c);
    close(s);

    /* a socket that failed to connect can still be bound and listen */
    s = socket(AF_INET, SOCK_STREAM, 0);
    show("connect(refused) fresh", connect(s, (struct sockaddr *)&refused, sizeof refused));
    struct sockaddr_in any = v4("127.0.0.1", 0);
    show("bind after refused", bind(s, (struct sockaddr *)&any, sizeof any));
    show("listen after refused", listen(s, 1));
    close(s);
    close(lst);
    close(holder);
    return 0;
}
