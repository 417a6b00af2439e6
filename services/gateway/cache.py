"""A small in-process cache with a time-to-live per entry and a bounded size.

Used by the gateway to avoid asking the users service about the same token or project on
every request. Entries expire after `ttl` seconds (or earlier, at a given deadline); when the
cache is full the oldest entries make room (they are also the first to expire)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._items[key]
            return None
        return value

    def set(self, key: K, value: V, *, max_age: float | None = None) -> None:
        """Store `value` for `ttl` seconds, or for `max_age` seconds if that is shorter."""
        if self.ttl <= 0:
            return
        age = self.ttl if max_age is None else min(self.ttl, max_age)
        if age <= 0:
            return
        self._items.pop(key, None)
        if len(self._items) >= self.max_entries:
            self._make_room()
        self._items[key] = (self._clock() + age, value)

    def delete(self, key: K) -> None:
        self._items.pop(key, None)

    def delete_where(self, predicate: Callable[[V], bool]) -> int:
        doomed = [key for key, (_, value) in self._items.items() if predicate(value)]
        for key in doomed:
            del self._items[key]
        return len(doomed)

    def _make_room(self) -> None:
        # Entries are kept in insertion order, which is (nearly) expiry order: the oldest go first.
        while len(self._items) >= self.max_entries:
            self._items.popitem(last=False)
