"""A small thread-safe LRU mapping filled on demand, for caches kept in one process."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Bounded(Generic[T]):
    """A thread-safe LRU mapping of at most ``size`` entries, filled on demand by ``get(key, make)``."""

    def __init__(self, size: int):
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: str, make: Callable[[], T]) -> T:
        """The entry for ``key``, made by ``make()`` (outside the lock) when missing."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
