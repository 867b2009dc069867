"""What a stack host records on request: the TCP probe's JSON lines (`host start
--tcp-probe FILE`, for the host's life) and run sessions (`rocketnet run --pcap DIR
--tcp-probe FILE`): a pcapng capture of every interface and a probe file that start
before the program and end when the last process of the run has gone.

A run session is tied to a token, one end of a socket pair that `rocketnet run` leaves
open across exec; every process of the run inherits it, so the host sees the token's
end close when the whole run is over. While a session lasts it records the host's
traffic (another program on the same host at the same time is in the capture too:
use a filter, or a host of its own with `run --host NAME`). Files are created anew
(O_EXCL, never following a symlink), mode 0600.
"""
from __future__ import annotations

import errno
import json
import os
import select
import socket
import time
from pathlib import Path
from typing import IO, Any

from rocketnet.phy import MonitorDevice
from rocketnet.wire.filter import compile_filter
from rocketnet.wire.offload import complete_checksums
from shim import protocol as P
from shim.phy.pcapng import PcapngWriter

FLUSH_EVERY = 1.0          # seconds of stack time between probe file flushes
DEFAULT_SNAPLEN = 262144


def create_private(path: str | os.PathLike, text: bool = False) -> IO[Any]:
    """A new file at path, mode 0600: EEXIST if anything is there, ELOOP on a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    return os.fdopen(fd, "w" if text else "wb")


class ProbeLog:
    """Probe records as JSON lines in one file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.f = create_private(path, text=True)
        self.flushed = 0.0

    def write(self, rec: dict[str, Any]) -> None:
        self.f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        if rec["t"] - self.flushed >= FLUSH_EVERY:
            self.flushed = rec["t"]
            self.f.flush()

    def close(self) -> None:
        self.f.close()


class _CaptureTap:
    """One interface's frames into a session's pcapng file (filtered)."""

    def __init__(self, writer: PcapngWriter, if_id: int, keep: Any) -> None:
        self.writer = writer
        self.if_id = if_id
        self.keep = keep
        self.dirty = False

    def frame(self, data: bytes | memoryview, outbound: bool) -> None:
        if self.keep is None or self.keep(data):
            self.writer.write(self.if_id, data, time.time(), outbound)
            self.dirty = True

    def flush(self) -> None:
        if self.dirty:
            self.dirty = False
            self.writer.flush()


class RunSession:
    def __init__(self, service: SessionService, opts: dict[str, Any], pid: int) -> None:
        self.service = service
        self.files: dict[str, str] = {}
        self.writer: PcapngWriter | None = None
        self.taps: list[tuple[MonitorDevice, _CaptureTap]] = []
        self.probe: ProbeLog | None = None
        snaplen = int(opts.get("snaplen") or DEFAULT_SNAPLEN)
        if not 0 < snaplen <= DEFAULT_SNAPLEN:
            raise ValueError(f"snaplen must be 1..{DEFAULT_SNAPLEN}")
        keep = compile_filter(opts["filter"]) if opts.get("filter") else None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        try:
            if opts.get("pcap"):
                d = Path(opts["pcap"])
                d.mkdir(mode=0o700, parents=True, exist_ok=True)
                path = d / f"run-{stamp}-{pid}.pcapng"
                self.writer = PcapngWriter(create_private(path))
                self.files["pcap"] = str(path)
                for iface in service.stack.interfaces:
                    self._tap(iface, snaplen, keep)
            if opts.get("tcp_probe"):
                self.probe = ProbeLog(opts["tcp_probe"])
                self.files["tcp_probe"] = self.probe.path
                service.add_probe(self.probe)
        except BaseException:
            self.close()
            raise

    def _tap(self, iface: Any, snaplen: int, keep: Any) -> None:
        assert self.writer is not None
        dev = iface.raw_device
        if not isinstance(dev, MonitorDevice):
            offload = dev.capabilities().checksum_offload
            dev = MonitorDevice(dev, record_rx=not iface.loopback,
                                fixup=complete_checksums if offload else None)
            iface.replace_device(dev)
        tap = _CaptureTap(self.writer, self.writer.add_interface(iface.name, snaplen), keep)
        dev.taps.append(tap)
        self.taps.append((dev, tap))

    def close(self) -> None:
        for dev, tap in self.taps:
            dev.taps.remove(tap)
        self.taps.clear()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.probe is not None:
            self.service.remove_probe(self.probe)
            self.probe.close()
            self.probe = None


class SessionService:
    def __init__(self, stack: Any, table: Any) -> None:
        self.stack = stack
        self.table = table              # the host's ChannelTable: its epoll watchers
        self.probes: list[ProbeLog] = []
        self.tokens: dict[int, tuple[socket.socket, RunSession]] = {}
        self.ending: list[RunSession] = []  # the run is over: close after this round

    def add_probe(self, log: ProbeLog) -> None:
        self.probes.append(log)
        self.stack.set_tcp_probe(self._record)

    def remove_probe(self, log: ProbeLog) -> None:
        self.probes.remove(log)
        if not self.probes:
            self.stack.set_tcp_probe(None)

    def _record(self, rec: dict[str, Any]) -> None:
        for p in self.probes:
            p.write(rec)

    def op_run_session(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """The host writes the files, so only its owner may ask (a process of another
        uid that inherited a dialer may not name paths for it); the capture holds
        every program's traffic too."""
        if c.uid != os.getuid():
            return P.response(-1, errno.EPERM), None
        try:
            opts = json.loads(req.payload)
            if not isinstance(opts, dict):
                raise ValueError("not a JSON object")
            session = RunSession(self, opts, c.pid)
        except OSError as e:
            return P.response(-1, e.errno or errno.EIO), None
        except ValueError as e:          # also json's errors: the CLI checked the syntax
            return P.response(-1, errno.EINVAL, str(e).encode()[: P.MAX_PAYLOAD]), None
        a, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        d.setblocking(False)
        self.tokens[d.fileno()] = (d, session)
        self.table.watch(d.fileno(), select.EPOLLIN, self.token_event)   # EOF: run over
        return P.response(0, 0, json.dumps(session.files).encode()), a.detach()

    def token_event(self, fd: int, ev: int) -> None:
        d, session = self.tokens[fd]
        try:
            if d.recv(1):
                return                     # nobody sends on a token: ignore
        except BlockingIOError:
            return
        except OSError:
            pass
        self.table.unwatch(fd)
        del self.tokens[fd]
        d.close()
        self.ending.append(session)

    def finish(self) -> None:
        """Close the sessions whose run ended, once the host has served the rest of
        the round: the closes of the run's sockets and what the stack sent for them
        (FINs) are in the capture."""
        for session in self.ending:
            session.close()
        self.ending.clear()

    def close(self) -> None:
        for d, session in self.tokens.values():
            d.close()
            session.close()
        self.tokens.clear()
        self.finish()
        for p in list(self.probes):
            p.close()
        self.probes.clear()
