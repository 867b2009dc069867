"""Administration of a running stack host: counters (`rocketnet stats`, `rocketnet ip`),
packet capture (`rocketnet run --pcap DIR`) and stop (`rocketnet stop`)."""
from __future__ import annotations

import errno
import json
import os
from typing import Any, Callable

from rocketnet.stack import NetStack
from shim import netconfig
from shim import protocol as P


class Admin:
    def __init__(self, name: str, stack: NetStack, counters: Callable[[], dict],
                 stop: Callable[[], None]) -> None:
        self.name = name
        self.stack = stack
        self.counters = counters        # the host's own counters for the stats
        self.stop = stop
        self.ops = {P.OP_HOST_STATS: self.op_host_stats, P.OP_HOST_PCAP: self.op_host_pcap,
                    P.OP_HOST_STOP: self.op_host_stop}

    def op_host_stats(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """args[0]: 0 = host and stack counters, 1 = interfaces (`rocketnet ip`);
        args[1]: offset into the JSON text; ret = its total length (page on)."""
        if req.args[0] == 1:
            info = {"interfaces": netconfig.describe(self.stack)}
        else:
            info = {"name": self.name, "pid": os.getpid()}
            info.update(self.counters())
            info["stack"] = dict(self.stack.stats)
        text = json.dumps(info).encode()
        off = max(0, req.args[1])
        return P.response(len(text), 0, text[off : off + P.MAX_PAYLOAD]), None

    def op_host_pcap(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """`rocketnet run --pcap DIR` on a running host: capture every interface (the
        capture holds every program's traffic: the host's owner only)."""
        if not c.is_owner():
            return P.response(-1, errno.EPERM), None
        try:
            netconfig.start_capture(self.stack, os.fsdecode(req.payload))
        except OSError as e:
            return P.response(-1, e.errno or errno.EIO), None
        return P.response(0), None

    def op_host_stop(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        if not c.is_owner():
            return P.response(-1, errno.EPERM), None
        self.stop()
        return P.response(0), None
