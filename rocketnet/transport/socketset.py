"""SocketSet: the stack's sockets, addressed by small integer handles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class SocketSet(Generic[T]):
    def __init__(self) -> None:
        self._items: dict[int, T] = {}
        self._next = 1

    def add(self, item: T) -> int:
        h = self._next
        self._next += 1
        self._items[h] = item
        return h

    def remove(self, handle: int) -> T | None:
        return self._items.pop(handle, None)

    def get(self, handle: int) -> T | None:
        return self._items.get(handle)

    def __contains__(self, handle: object) -> bool:
        return handle in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def handles(self) -> list[int]:
        return list(self._items)
