/* rn_protocol.h - the wire protocol between the preload stub (c_stub/) and
 * the stack host (shim/).  This header is the single source of truth: the stub
 * includes it, and shim/protocol.py reads the same constants and struct layouts
 * through cffi (c_stub/build_ffi.py cdefs them), so the two sides cannot drift.
 *
 * Transport: one AF_UNIX SOCK_SEQPACKET "control" connection per process to
 * <runtime dir>/<host>/ctl.sock.  One request message -> one response message.
 * A request is struct rn_req followed by req.payload_len bytes; a response is
 * struct rn_resp followed by resp.payload_len bytes, optionally with one fd in
 * SCM_RIGHTS.  Integers are native-endian (both ends are on one machine).
 *
 * A shim socket is one end ("A") of an AF_UNIX socket pair whose other end ("S")
 * the host keeps.  The host binds A to the abstract name
 *     "\0" RN_NAME_PREFIX <nonce, RN_NONCE_LEN hex chars> "-" <sock_id decimal>
 * before handing it over, so any process can recognise a shim fd with
 * getsockname() and confirm it with SO_PEERCRED (pid == host pid).
 * Stream sockets (TCP) use a SOCK_STREAM pair that carries raw payload.
 */
#ifndef RN_PROTOCOL_H
#define RN_PROTOCOL_H

#include <stdint.h>

/* RN_PROTO_VERSION is not written here: build_ffi.py derives it from this file's text,
 * so a stub and a stack host speak only if they were built from the same protocol
 * (HELLO compares it; a host of another build answers EPROTO). */
#define RN_NAME_PREFIX "rocketnet-"
#define RN_NONCE_LEN 16

/* Environment passed from `rocketnet run` to the stub. */
#define RN_ENV_SOCK "ROCKETNET_SOCK"       /* path of the host's ctl.sock */
#define RN_ENV_CTL_FD "ROCKETNET_CTL_FD"   /* inherited control fd, already connected */
#define RN_ENV_TRACE "ROCKETNET_TRACE"     /* trace file path, or "&FD" (optional) */
#define RN_ENV_TRACE_OPTS "ROCKETNET_TRACE_OPTS" /* t, r, T0=NS, s=N, e=CALL:CALL (traceopt.c) */
/* Inherited dialer: an AF_UNIX SOCK_SEQPACKET connection to the host (from
 * RN_OP_DIALER) on which clients only ever SEND.  A process that needs a control
 * connection creates a SOCK_SEQPACKET socketpair and sends one end over the dialer
 * as one message (1 byte + that fd in SCM_RIGHTS); no reply comes on the dialer, so
 * a parent and its children can share it.  The host serves such connections
 * whatever the sender's uid: holding the inherited dialer is the capability.  The
 * stub keeps it at a high fd without FD_CLOEXEC and re-exports its number here. */
#define RN_ENV_DIALER_FD "ROCKETNET_DIALER_FD"

/* What the host's kernel does with an AF_UNIX byte read out of band (its profile):
 * the stub makes up for it on a TCP socket's A, whose urgent byte comes that way. */
#define RN_HELLO_OOB_STALL 1  /* it stalls the next non-blocking in-band read (EAGAIN) */
#define RN_HELLO_OOB_NOMARK 2 /* SIOCATMARK says 0 at it (TCP: 1, still at the mark) */
/* An IPV6_TCLASS control message of -1 sends the socket's class (6.1; 6.18: 0xff). */
#define RN_HELLO_TCLASS_SOCK 4

/* Request opcodes. arg[] use is listed per op; "payload" is what follows rn_req. */
#define RN_OP_HELLO 1        /* arg0=pid arg1=RN_PROTO_VERSION -> ret=host pid, payload=nonce
                                then a uint32_t of RN_HELLO_* (the kernel's),
                                arg0 = 1: the stub may keep options (the stack's model
                                answers them as this kernel does), 0: it keeps none (see
                                RN_OP_SETOPTS); arg1 = 0 */
#define RN_OP_SOCKET 2       /* arg0=domain arg1=type(no flags) arg2=protocol
                                -> ret=sock_id, arg0=RN_KIND_*, arg1=A's inode (0:
                                   unknown; the stub's cache then fstats), fd A attached;
                                   err RN_ERR_PASSTHROUGH: not ours, use the real call */
#define RN_OP_BIND 3         /* payload=sockaddr (as the program passed it) */
#define RN_OP_LISTEN 4       /* arg0=backlog */
/* BIND, LISTEN and CONNECT of a TCP socket: arg3 = the number of struct rn_setopt at the
   end of the payload (after the sockaddr), applied first as RN_OP_SETOPTS does. */
#define RN_OP_CONNECT 5      /* payload=sockaddr, arg0=filler bytes the stub wrote into A,
                                arg1=1 if the program's fd is non-blocking
                                -> ret 0 connected, or -1 with err (EINPROGRESS, ...);
                                the host discards arg0 filler bytes from S whatever the
                                outcome (at once on an error, after the handshake on
                                EINPROGRESS).  The stub fills only on the first connect of
                                a socket (or after a failed one), so EALREADY/EISCONN
                                retries normally carry arg0 == 0.
                                arg2=1: the stub wrote no filler because A was made shut
                                (a socket that never connected): if a connect starts, the
                                host puts a fresh A in place in this same call (no
                                RN_OP_REOPEN): the reply carries it (arg0 = RN_KIND_*, arg1
                                = its sock_id, payload = its inode as a uint64_t, which the
                                stub's cache keys on) for the stub to put on the program's fd,
                                filled by the host while the handshake is in progress; if
                                that A is not shut, -1 RN_ERR_FILL: fill it, call again. */
#define RN_OP_SHUTDOWN 6     /* arg0=how; the stub then shuts A down natively */
#define RN_OP_GETSOCKNAME 7  /* -> payload=sockaddr (full length, stub truncates) */
#define RN_OP_GETPEERNAME 8  /* -> payload=sockaddr */
#define RN_OP_GETSOCKOPT 9   /* arg0=level arg1=optname arg2=optlen -> payload=value;
                                the stub copies min(optlen, payload_len) bytes and stores
                                that count in *optlen (so the payload length is what Linux
                                reports).  optlen < 0 and a bad optlen pointer are handled
                                by the stub (EINVAL/EFAULT) without an RPC. */
#define RN_OP_SETSOCKOPT 10  /* arg0=level arg1=optname arg2=optlen as the program passed it,
                                payload=value (the first min(optlen, RN_MAX_PAYLOAD) bytes;
                                an unreadable optval is EFAULT in the stub, no RPC).  A longer
                                AF_ALG key comes in parts: arg3 = the part's offset */
#define RN_OP_IOCTL 11       /* arg0=request, payload=in -> payload=out.  SIOCGIF*: payload =
                                struct ifreq both ways; SIOCGIFCONF: no payload in, every
                                entry out (the stub copies what fits in ifc_len) */
#define RN_OP_DIALER 12      /* -> ret 0, a new dialer end attached (see RN_ENV_DIALER_FD) */
#define RN_OP_REOPEN 13      /* -> ret=new sock_id, arg0=RN_KIND_*, a fresh A attached: the stub
                                puts it on the program's fd number (dup3, keeping FD_CLOEXEC and
                                O_NONBLOCK) and retries the call that answered RN_ERR_REOPEN.
                                Used when A cannot serve the call: a socket that never
                                connected (its A is shut for writing, so writes fail with EPIPE
                                as on an unconnected TCP socket) starts connecting, or a socket
                                whose connection failed (its S is closed) is used again. */
#define RN_OP_MORE 14        /* arg0=1: what the program writes to A from now on is held back
                                (MSG_MORE); arg0=0: push it (a send without MSG_MORE). */
#define RN_OP_OOB 15         /* payload = the last byte of a send(MSG_OOB) on a stream socket (the
                                stub wrote the bytes before it to A): the host takes what A
                                holds, then queues the byte as urgent data -> ret 1, or -1
                                EAGAIN (no room) / EPIPE (not connected). */
#define RN_OP_LINGER 16      /* the stub closed an A whose socket has SO_LINGER {1, secs}: if
                                that was the last reference, ret = secs and a waiter fd is
                                attached that the host closes once what was sent (and the FIN)
                                is acknowledged or the socket is gone; else ret 0, no fd. */
#define RN_OP_SETOPTS 25     /* TCP socket: arg0 = n, payload = n struct rn_setopt: setsockopt of
                                each in order -> ret 0.  Options the stub kept instead of
                                calling (c_stub/defer.c): int options whose set cannot fail
                                on a socket that never connected (SO_REUSEADDR,
                                SO_REUSEPORT, SO_KEEPALIVE, SO_SNDBUF, SO_RCVBUF,
                                TCP_NODELAY), sent before (or with) its next call. */
#define RN_OP_RDEND 24       /* a read on a stream A ended: arg0 = 0 (it read 0, EOF) or the errno
                                it failed with (ECONNRESET: S was closed with unread bytes); -1: a read is about to
                                start on a socket that may never have connected.
                                -> ret 0: return 0 (arg0 = 1: a final EOF, as after a FIN: the
                                stub need not ask again for this A); -1 with the errno Linux's
                                TCP gives here: ENOTCONN (never connected, listener), the
                                socket's pending error (ECONNRESET, ECONNREFUSED...; taken as
                                Linux's sock_error takes it). */


#define RN_OP_UNIX_ACCEPTED 17 /* AF_UNIX: the stub took the accept record of sock_id from its
                                listener: the connection leaves the backlog. */
#define RN_OP_UNIX_PAIR 18   /* socketpair(AF_UNIX, arg0=type, arg1=protocol), sock_id 0
                                -> ret = sock_id of the first end, arg0 = sock_id of the
                                second, first end attached; then sock_id = the second id
                                -> ret = that id, the second end attached. */
#define RN_OP_UNIX_RESOLVE 19 /* AF_UNIX SOCK_DGRAM: payload = destination sockaddr (a path
                                resolved as for connect: arg0 bit 1, arg1, arg2; bit 2 =
                                SO_PASSCRED: autobind the sender first) -> ret = the
                                sock_id of the datagram socket bound to it (the stub sends to
                                its identity name), or -1 ECONNREFUSED/EPROTOTYPE/EINVAL. */
#define RN_OP_DGRAM_CHECK 40 /* datagram socket: payload=destination sockaddr as the program
                                passed it -> ret 0 and arg0 = largest payload for it
                                (65507 / 65527), or -1 with the errno sendto would give
                                (EINVAL, EAFNOSUPPORT, ENETUNREACH, EACCES, ...);
                                arg0=1: no address (check the connected peer instead:
                                EDESTADDRREQ if none).  The stub caches the answer. */
#define RN_OP_DGRAM_SYNC 41  /* datagram socket found empty (EAGAIN): the host first takes
                                every datagram programs have sent so far through the
                                stack (loopback delivery is synchronous on Linux), then
                                replies; the stub tries the receive once more.
                                arg0=1: recvmsg(MSG_ERRQUEUE): then pops the oldest error
                                queue entry (IP_RECVERR): ret = payload length, payload =
                                struct sock_extended_err, u16 name len, u16 offender len,
                                name[28], offender[28], data; EAGAIN when empty. */
/* Administration, used by the `rocketnet` command, never by the stub. */
#define RN_OP_HOST_STATS 100 /* -> payload=JSON object (counters, sockets, clients) */
#define RN_OP_HOST_STOP 101  /* the host replies, then shuts down */
#define RN_OP_RUN_SESSION 103 /* `rocketnet run --pcap/--tcp-probe`: payload=JSON {"pcap": DIR,
                                "snaplen": N, "filter": EXPR, "tcp_probe": FILE} -> payload=JSON
                                {"pcap": file, "tcp_probe": file}, a token fd attached; the
                                session lasts until every holder of the token closed it */

/* Socket kinds (how the A end carries data). */
#define RN_KIND_STREAM 1     /* SOCK_STREAM pair, raw payload both ways */
#define RN_KIND_DGRAM 2      /* SOCK_SEQPACKET pair: one message per datagram, each
                                struct rn_dgram_hdr + payload (see below) */

#define RN_KIND_UNIX 4       /* AF_UNIX SOCK_STREAM / SEQPACKET / DGRAM (shim/unix.py): a kernel
                                socket of the program's type, named "u<id>" after the nonce;
                                connected, it is one end of a pair whose other end is the
                                peer program's fd, so data calls are the kernel's own.
                                bind/connect of a path: the stub walks it in the caller's
                                process and passes arg0 bit 1 with an O_PATH fd of the socket
                                node in SCM_RIGHTS (the host takes the node from that fd and
                                checks write permission on it with the caller's credentials)
                                (connect: arg0 bit 2 = SO_PASSCRED is on, arg3 =
                                non-blocking).  connect/listen answer ret =
                                the new sock_id with the fd to put on the program's fd;
                                connect: -1 EAGAIN with arg0 = 1 = backlog full, wait, retry. */

/* err value meaning "this family/type is not served by the stack: call the kernel". */
#define RN_ERR_PASSTHROUGH 100000
/* err value meaning "replace the fd's A first (RN_OP_REOPEN), then retry". */
#define RN_ERR_REOPEN 100001
/* err value meaning "fill A first (the connect filler), then retry" (RN_OP_CONNECT). */
#define RN_ERR_FILL 100002

struct rn_req {
    uint32_t op;
    uint32_t sock_id;
    int64_t arg[4];
    uint32_t payload_len;
    uint32_t fd_hint;        /* 1 + the caller's fd for sock_id, 0 if unknown: where the host
                                looks first for the proof that the caller holds the socket
                                (its /proc/<pid>/fd entry); only a hint, never trusted */
};

struct rn_setopt {
    int32_t level;
    int32_t optname;
    int32_t value;
};

struct rn_resp {
    int64_t ret;             /* >= 0: success value; -1: failure with err */
    int32_t err;             /* errno when ret == -1 */
    uint32_t payload_len;
    int64_t arg[2];
};

/* Largest payload either way (sockaddr, option values, ioctl buffers). */
#define RN_MAX_PAYLOAD 4096

/* accept(): the host writes one record per established connection into the
 * listener's S end, each with the new connection's A end as one SCM_RIGHTS fd,
 * each in a single sendmsg, so one read of sizeof(struct rn_accept_rec) on the
 * listener's A returns exactly one record (the kernel does not merge stream
 * data across skbs that carry fds). */
struct rn_accept_rec {
    uint32_t sock_id;        /* id of the new connection */
    uint32_t addrlen;        /* length of the peer address in addr */
    uint8_t addr[128];       /* peer sockaddr, in the listener's family */
};

/* Datagram channel (RN_KIND_DGRAM).  Every message on the pair is one datagram:
 * this header, then the payload (possibly empty).
 * app -> host: addrlen 0 = to the connected peer, else addr is the destination
 *   sockaddr as the program passed it (the stub checked it with RN_OP_DGRAM_CHECK).
 * host -> app: addr is the source (sockaddr in the socket's family), local/ifindex
 *   the destination address and interface, tos/ttl from the IP header.  A message
 *   with RN_DG_ERROR carries no payload: a pending socket error (ICMP); the stub
 *   consumes it and takes the error with getsockopt(SO_ERROR), so an error already
 *   taken otherwise is not reported twice. */
#define RN_DG_ERROR 1
/* app -> host: sent with MSG_MORE (UDP corking: joins the next part, see UdpSock.cork). */
#define RN_DG_MORE 2
/* app -> host: sendmsg control data gave this datagram's TTL / hop limit (ttl) and TOS /
 * traffic class (tos), IP_TTL / IP_TOS / IPV6_HOPLIMIT / IPV6_TCLASS. */
#define RN_DG_SEND_TTL 4
#define RN_DG_SEND_TOS 8
/* host -> app: control messages recvmsg must produce for this datagram (the socket's
 * options when it was queued), in Linux's order: timestamps, then IP, then IPv6. */
#define RN_DG_CM_TSTAMP 16       /* SO_TIMESTAMP: SCM_TIMESTAMP (struct timeval) */
#define RN_DG_CM_TSTAMPNS 32     /* SO_TIMESTAMPNS: SCM_TIMESTAMPNS (struct timespec) */
#define RN_DG_CM_PKTINFO 64      /* IP_PKTINFO: struct in_pktinfo */
#define RN_DG_CM_TTL 128         /* IP_RECVTTL: IP_TTL (int) */
#define RN_DG_CM_TOS 256         /* IP_RECVTOS: IP_TOS (one byte) */
#define RN_DG_CM_PKTINFO6 512    /* IPV6_RECVPKTINFO: IPV6_PKTINFO (struct in6_pktinfo) */
#define RN_DG_CM_HOPLIMIT 1024   /* IPV6_RECVHOPLIMIT: IPV6_HOPLIMIT (int) */
#define RN_DG_CM_TCLASS 2048     /* IPV6_RECVTCLASS: IPV6_TCLASS (int) */
#define RN_DGRAM_HDR_SIZE 64
struct rn_dgram_hdr {
    uint16_t flags;
    uint16_t addrlen;
    int32_t err;
    uint32_t ifindex;
    uint8_t tos;
    uint8_t ttl;
    uint8_t reserved[6];
    uint8_t addr[28];        /* struct sockaddr_in / sockaddr_in6 */
    uint8_t local[16];       /* IPv4 (first 4 bytes) or IPv6 destination address */
};

/* AF_ALG (the kernel crypto API socket; shim/alg.py, c_stub/alg.c).  A transform
 * socket (socket(AF_ALG, SOCK_SEQPACKET, 0): bind, setsockopt) and each operation
 * socket its accept() gives are RN_KIND_ALG: a SOCK_SEQPACKET pair.
 * app -> host: one message per sendmsg chunk, struct rn_alg_hdr + input; a message
 *   without the magic (splice/sendfile into A) is plain input, no MSG_MORE.
 * host -> app: one message per read, struct rn_alg_res + result (the stub reads it
 *   into the program's buffer: a shorter buffer truncates with MSG_TRUNC, as a
 *   digest read does on Linux); one-byte messages are readiness markers (A polls
 *   readable where af_alg_poll gives POLLIN), skipped by reads.
 * Fillers: Linux's transform, hash and rng sockets have no poll method (no events at
 *   all), so the A end of those keeps one RN_ALG_FILL message of over a quarter of
 *   its send buffer queued, and A never polls writable.  The host sends the first;
 *   an RPC that ran the queued messages (and with them the filler) answers with
 *   arg[1] = the size of a new filler for the stub to queue. */
#define RN_KIND_ALG 3
#define RN_OP_ALG_ACCEPT 42  /* transform (or hash operation) socket
                                -> ret = sock_id of the new operation socket, fd A attached */
#define RN_OP_ALG_SEND 43    /* operation socket: the stub has queued one message on A;
                                the host runs every queued message -> ret = input bytes
                                taken by the last one, or -1 with its errno (dropped) */
#define RN_OP_ALG_RECV 44    /* operation socket: arg0 = buffer length, arg1 = 1 if
                                non-blocking; the host first runs the queued messages
                                -> ret 0: a result message is on A now; ret 1: it comes
                                when more input completes the request (blocking read);
                                -1 with errno (EAGAIN when non-blocking and incomplete) */
#define RN_ALG_MAGIC 1196179794
#define RN_ALG_MORE 1        /* MSG_MORE */
#define RN_ALG_CTL 2         /* the sendmsg had SOL_ALG control messages: op, assoclen */
#define RN_ALG_IV 4          /* ... and ALG_SET_IV: ivlen, iv (first RN_ALG_IV_MAX bytes) */
#define RN_ALG_FILL 8        /* a filler: no input (see above) */
#define RN_ALG_IV_MAX 64
struct rn_alg_hdr {
    uint32_t magic;
    uint32_t flags;
    uint32_t op;
    uint32_t assoclen;
    uint32_t ivlen;
    uint32_t reserved;
    uint8_t iv[64];
};
struct rn_alg_res {
    int32_t err;             /* 0, or the errno of a read that completed late */
    uint32_t reserved;
};

/* Name resolution in the stack's world (shim/resolver.py, c_stub/resolv.c): the stub
 * interposes getaddrinfo & co. and asks the host, which resolves by its own policy
 * (hosts file, files/dns order, DNS through the stack's UDP).  The answer may take
 * seconds (DNS timeouts), so it never comes in the RPC: the reply attaches a waiter fd
 * (SOCK_SEQPACKET) on which the host later sends one message, struct rn_res_ans then
 * name_len bytes of names (each NUL-terminated, at least one) then the body, and
 * closes it. */
#define RN_OP_RESOLVE 50     /* arg0 = RN_RES_*:
                                ADDR: payload = name, arg1 = family (AF_UNSPEC/INET/INET6),
                                  arg2 bit 0 = AI_V4MAPPED, bit 1 = AI_ALL -> names = canonical
                                  name and aliases, body = count entries of 17 bytes: length (4 or 16),
                                  address padded to 16;
                                NAME: payload = 4 or 16 address bytes -> name = host name;
                                QUERY: payload = domain name, arg1 = class, arg2 = type,
                                SEND: payload = a whole DNS query -> body = the raw reply
                                (count = its length) */
#define RN_RES_ADDR 1
#define RN_RES_NAME 2
#define RN_RES_QUERY 3
#define RN_RES_SEND 4
#define RN_RES_OK 0          /* statuses: glibc's NSS_STATUS / h_errno meanings */
#define RN_RES_NOTFOUND 1    /* HOST_NOT_FOUND, EAI_NONAME */
#define RN_RES_NODATA 2      /* NO_DATA, EAI_NODATA */
#define RN_RES_AGAIN 3       /* TRY_AGAIN, EAI_AGAIN: no nameserver answered */
#define RN_RES_FAIL 4        /* NO_RECOVERY, EAI_FAIL */
struct rn_res_ans {
    int32_t status;
    uint32_t count;
    uint32_t name_len;
};

#endif
