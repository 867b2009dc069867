"""Administration of a running stack host: counters (`rocketnet host stats`), interfaces
(`rocketnet ip`), sockets (`rocketnet ss`) and stop (`rocketnet host stop`). Captures
and probe files are run sessions (shim/session.py)."""
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
                 stop: Callable[[], None], sockets: Callable[[], list]) -> None:
        self.name = name
        self.stack = stack
        self.counters = counters        # the host's own counters for the stats
        self.stop = stop
        self.sockets = sockets          # `rocketnet ss` rows (shim/ssview.py)
        self.ops = {P.OP_HOST_STATS: self.op_host_stats, P.OP_HOST_STOP: self.op_host_stop}

    def op_host_stats(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        """args[0]: 0 = host and stack counters, 1 = interfaces (`rocketnet ip`), 2 =
        sockets (`rocketnet ss`); args[1]: offset into the JSON text; ret = its total
        length (page on)."""
        if req.args[0] == 1:
            info = {"interfaces": netconfig.describe(self.stack)}
        elif req.args[0] == 2:
            info = {"sockets": self.sockets()}
        else:
            info = {"name": self.name, "pid": os.getpid()}
            info.update(self.counters())
            info["stack"] = dict(self.stack.stats)
        text = json.dumps(info).encode()
        off = max(0, req.args[1])
        return P.response(len(text), 0, text[off : off + P.MAX_PAYLOAD]), None

    def op_host_stop(self, c: Any, req: P.Request):  # type: ignore[no-untyped-def]
        if not c.is_owner():
            return P.response(-1, errno.EPERM), None
        self.stop()
        return P.response(0), None
