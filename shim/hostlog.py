"""The stack host's log (host.log): connection life, state changes and drops, at the
level ROCKETNET_LOG names (debug, info, warning; default info). Lines name the
host's socket id (`sock N`, as `rocketnet run --trace -y` shows next to each fd), the
stack's handle (`#H`, the TCP probe's "sock") and the addresses (what a capture
shows), so the three line up. Nothing here runs per packet: state changes come from
the stack's events, drops as a summary at most every DROP_EVERY seconds.

    2026-12-06 20:11:02.123 INFO sock 7 #3 tcp 127.0.0.1:40312 > 127.0.0.1:5201
        SYN_SENT -> ESTABLISHED   (one line)
"""
from __future__ import annotations

import errno
import logging
import os
import sys
import time
from socket import SOCK_STREAM  # a stack socket's type (Socket.type: without flags)
from typing import Any

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
ENV = "ROCKETNET_LOG"
DROP_EVERY = 10.0

log = logging.getLogger("rocketnet.host")
DATEFMT = "%Y-%m-%d %H:%M:%S"
# how long an INFO line may wait in the host before it is written (InfoLines), and how
# many may wait: a host killed by SIGKILL loses at most that much of its log
FLUSH_AFTER = 0.05
FLUSH_LINES = 1024


class InfoLines:
    """INFO lines exactly as setup()'s handler writes them, without a LogRecord each:
    the host writes several per connection (its state changes), and logging's
    machinery took 10 us a line. Lines wait in a list, written together once the oldest
    has waited FLUSH_AFTER (the host's loop asks due() before it sleeps, and wakes up
    for it): a write per FLUSH_AFTER, not per wake-up (three per TCP_CRR connection).
    A record logging writes through the handler flushes them first (in order)."""

    def __init__(self, handler: logging.StreamHandler) -> None:
        self.handler = handler
        self.sec = -1
        self.stamp = ""
        self.waiting: list[str] = []
        self.since = -1.0       # the host loop's clock when it first saw lines waiting
        handler.addFilter(self.before_record)

    def before_record(self, record: logging.LogRecord) -> bool:
        if self.waiting:
            self.flush()
        return True

    def due(self, now: float) -> float | None:
        """Lines wait (the host loop's clock now): flush them if the oldest has waited
        FLUSH_AFTER or FLUSH_LINES wait, else -> when to wake up to."""
        if self.since < 0.0:
            self.since = now
        if now - self.since >= FLUSH_AFTER or len(self.waiting) >= FLUSH_LINES:
            self.flush()
            return None
        return self.since + FLUSH_AFTER

    def __call__(self, msg: str) -> None:
        now = time.time()
        sec = int(now)
        if sec != self.sec:
            self.sec, self.stamp = sec, time.strftime(DATEFMT, time.localtime(sec))
        self.waiting.append(f"{self.stamp}.{int((now - sec) * 1000):03d} INFO {msg}\n")

    def flush(self) -> None:
        text = "".join(self.waiting)
        self.waiting.clear()
        # the handler's stream without its lock: the host has no other thread, and
        # logging flushed the stream after each record it wrote (ordered)
        stream = self.handler.stream
        stream.write(text)
        stream.flush()
        self.since = -1.0


class LoggingLines:
    """INFO lines through logging itself (a test's or an embedder's handlers)."""

    waiting = ()

    def __call__(self, msg: str) -> None:
        log.info("%s", msg)

    def flush(self) -> None:
        pass


def info_lines() -> InfoLines | LoggingLines:
    """The writer of host.log's INFO lines: InfoLines when setup()'s handler is the
    log's only one, else logging itself (a test's or embedder's handlers)."""
    if len(log.handlers) == 1 and isinstance(log.handlers[0], logging.StreamHandler) and \
            getattr(log.handlers[0], "rocketnet_host", False):
        return InfoLines(log.handlers[0])
    return LoggingLines()


def setup() -> None:
    """Log to stderr (the host's stderr is host.log) at ROCKETNET_LOG's level."""
    name = os.environ.get(ENV, "info").lower()
    level = LEVELS.get(name)
    # the format names no source file, thread or process: logging need not find them
    # for each record (the logging HOWTO's "Optimization"; the host logs per connection)
    logging._srcfile = None     # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
                                     DATEFMT))
    h.rocketnet_host = True     # type: ignore[attr-defined]   # InfoLines may write for it
    log.addHandler(h)
    log.propagate = False
    log.setLevel(level if level is not None else logging.INFO)
    if level is None:
        log.warning("%s=%r is not one of %s: using info", ENV, name, ", ".join(LEVELS))


def endpoint(a: Any) -> str:
    if not isinstance(a, tuple) or len(a) < 2:
        return "-"
    return f"[{a[0]}]:{a[1]}" if ":" in str(a[0]) else f"{a[0]}:{a[1]}"


def describe(sock_id: int, sk: Any) -> str:
    """`sock N #H proto local > remote` for a stack socket."""
    proto = "tcp" if sk.type == SOCK_STREAM else "udp"
    try:
        local = endpoint(sk.getsockname())
    except Exception:          # a socket in any state describes itself, never raises here
        local = "-"
    try:
        remote = endpoint(sk.getpeername())
    except Exception:
        remote = "-"
    return f"sock {sock_id} #{sk.handle} {proto} {local} > {remote}"


# TCP states whose addresses stay as they are until CLOSED: a line's description is
# made once for all of them (a connection logs about five)
FIXED_ADDRESSES = frozenset(("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
                             "CLOSING", "LAST_ACK", "TIME_WAIT"))


class ConnLog:
    def __init__(self) -> None:
        # sk -> (its last state but CLOSED, (sock id, describe()) once made for the
        # fixed-address states or None): one lookup per change
        self.states: dict[Any, tuple[str, tuple[int, str] | None]] = {}
        self.ids: dict[Any, int] = {}    # sock id of a socket the program has closed
        self.info = log.isEnabledFor(logging.INFO)
        self.debug = log.isEnabledFor(logging.DEBUG)
        self.line = info_lines()
        self.drops: dict[str, int] = {}
        self.drops_at = 0.0

    def opened(self, sock_id: int, sk: Any, pid: int) -> None:
        if self.debug:
            log.debug("%s opened by pid %d", describe(sock_id, sk), pid)

    def changed(self, sock_id: int | None, sk: Any) -> None:
        """The stack reported an event on sk (sock_id None: the program closed it and
        the stack is finishing the connection): log a state change."""
        st = sk.state           # a stack socket's (every kind has a state name)
        seen = self.states.get(sk)
        if seen is None:
            if st == "CLOSED":
                return  # no change (an unconnected UDP socket stays CLOSED: per datagram)
            old, known = "-", None
        else:
            old, known = seen
            if st == old:
                return
        if sock_id is None:
            sock_id = self.ids.get(sk, 0)
        if self.info:
            if known is not None and known[0] == sock_id:
                text = known[1]
            else:
                text = describe(sock_id, sk)
                if st in FIXED_ADDRESSES and sk.type == SOCK_STREAM:
                    known = (sock_id, text)
            self.line(f"{text} {old} -> {st}")
        if st != "CLOSED":
            self.states[sk] = (st, known)
            return
        del self.states[sk]     # seen: a socket never seen does not get here CLOSED
        if sk in self.ids:
            del self.ids[sk]

    def failed(self, sock_id: int, sk: Any, err: int) -> None:
        if self.info:
            self.line(f"{describe(sock_id, sk)} failed: {errno.errorcode.get(err, str(err))}")

    def closed(self, sock_id: int, sk: Any) -> None:
        """The host let go of the socket's channel (closed, failed, or swapped)."""
        seen = self.states.get(sk)      # never CLOSED (changed() drops those)
        if seen is not None and seen[0] != "LISTEN":
            self.ids[sk] = sock_id            # the stack may still finish it
        if self.debug:
            log.debug("%s channel closed", describe(sock_id, sk))

    def drop_summary(self, stats: dict[str, int]) -> None:
        """New drop_* counts since the last summary, at most every DROP_EVERY s."""
        now = time.monotonic()
        if now - self.drops_at < DROP_EVERY:
            return
        self.drops_at = now
        new = {k: v - self.drops.get(k, 0) for k, v in stats.items()
               if k.startswith("drop_") and v != self.drops.get(k, 0)}
        if new:
            self.drops.update({k: stats[k] for k in new})
            log.info("dropped since the last report: %s",
                     ", ".join(f"{k[5:]} {v}" for k, v in sorted(new.items())))
