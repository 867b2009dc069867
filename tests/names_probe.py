"""Resolver calls with their results or errors, one line each: run natively and under
the shim, the outputs must match (tests/test_names.py)."""
import socket


def t(f, *a):
    try:
        return f(*a)
    except OSError as e:
        return (type(e).__name__, e.errno)


for call in (
    (socket.getaddrinfo, "localhost", "http", 0, 0, 0, socket.AI_CANONNAME),
    (socket.getaddrinfo, "localhost", "nosuchsvc"),
    (socket.getaddrinfo, "localhost", 80, socket.AF_INET6),
    (socket.getaddrinfo, "localhost", 80, socket.AF_INET6, 0, 0, socket.AI_V4MAPPED),
    (socket.getaddrinfo, "localhost", 80, 0, 0, 0, socket.AI_ADDRCONFIG),
    (socket.getaddrinfo, "::1", 80, socket.AF_INET),
    (socket.getaddrinfo, None, 80, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE),
    (socket.getaddrinfo, "stack.example", 80),
    (socket.getnameinfo, ("127.0.0.1", 80), 0),
    (socket.getnameinfo, ("127.0.0.1", 80), socket.NI_NAMEREQD),
    (socket.getnameinfo, ("10.1.2.3", 80), socket.NI_NAMEREQD),
    (socket.getnameinfo, ("::1", 80, 0, 0), 0),
    (socket.gethostbyname_ex, "localhost"),
    (socket.gethostbyname, "stack.example"),
    (socket.gethostbyaddr, "127.0.0.1"),
    (socket.gethostbyaddr, "10.1.2.3"),
):
    print(t(*call))
