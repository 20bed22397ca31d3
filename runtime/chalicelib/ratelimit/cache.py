"""A small in-process cache with a time to live, for catalog data read on every request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """``get_or_load(key, load)``: a value at most ``ttl`` seconds old; bounded to ``max_entries``."""

    def __init__(
        self, *, ttl: float, max_entries: int = 10_000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[K], V]) -> V:
        now = self._monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load(key)  # outside the lock: a slow load must not block other keys
        self.put(key, value)
        return value

    def put(self, key: K, value: V, *, ttl: float | None = None) -> None:
        expires = self._monotonic() + (self.ttl if ttl is None else ttl)
        with self._lock:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                self._entries.clear()  # crude but bounded; entries are cheap to reload
            self._entries[key] = (expires, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
