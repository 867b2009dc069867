"""AF_ALG's socket calls: what ``Socket`` does for a socket whose inner is a transform
socket (``AlgSocket``) or one of its operation sockets (``Operation``). The host
(shim/alg.py) moves the data; binding, keys and operations are the inner's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import Operation

if TYPE_CHECKING:
    from ..socket import Socket

__all__ = ["ALG", "AlgCalls"]


class AlgCalls:
    name = "alg"
    proto = 0

    @staticmethod
    def state(sk: Socket) -> str:
        return "CLOSED"         # an AF_ALG sock stays in sock_init_data's TCP_CLOSE

    @staticmethod
    def abort(sk: Socket, now: float) -> None:
        """The program closed it: an operation socket no longer holds its transform."""
        if isinstance(sk.inner, Operation):
            sk.inner.parent.release(sk.inner)
        sk.net.sockets.remove(sk.handle)

    close = abort


ALG = AlgCalls()
