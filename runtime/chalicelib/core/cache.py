"""The one in-process cache of the runtime: bounded, thread-safe, each entry with its own expiry.

A warm Lambda container keeps a few things between requests: the tiers'
rate limits and each customer's tier (``ratelimit.service``), the secrets
authentication signs and hashes with (``auth.signing``), this process's copy
of API-key verifications (``auth.verification_cache``) and the OpenAPI
document. Each is a :class:`LocalCache`; only what it holds and how long
differ.

Built on ``cachetools.TLRUCache``: at the bound the least recently used entry
goes first (an expired one before any), and an expired entry is never
returned. ``cachetools`` is not thread-safe and the local server is threaded,
so every access takes the cache's lock; a load (:meth:`LocalCache.get_or_load`)
runs outside it, so a slow load never blocks readers of other keys.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import cachetools

K = TypeVar("K")
V = TypeVar("V")


def _expires_at(_key: object, entry: tuple[float, object], _now: float) -> float:
    return entry[0]


class LocalCache(Generic[K, V]):
    """``max_entries`` at most; an entry lives ``ttl`` (``None``: until evicted), or until the ``expires_at`` it was put with.

    ``clock`` is what expiries are measured against: monotonic seconds by
    default; a cache whose expiries are epoch instants passes an epoch clock.
    """

    def __init__(
        self, *, max_entries: int = 10_000, ttl: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: cachetools.TLRUCache[K, tuple[float, V], float] = cachetools.TLRUCache(
            maxsize=max_entries, ttu=_expires_at, timer=clock
        )
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live value under ``key`` (now the most recently used), else ``None``."""
        entry = self._entry(key)
        return None if entry is None else entry[1]

    def get_or_load(self, key: K, load: Callable[[K], V]) -> V:
        """The live value under ``key``, else ``load(key)``, kept for ``ttl`` (``None`` values are kept too)."""
        entry = self._entry(key)
        if entry is not None:
            return entry[1]
        value = load(key)  # outside the lock: a slow load must not block other keys
        self.put(key, value)
        return value

    def put(self, key: K, value: V, *, ttl: float | None = None, expires_at: float | None = None) -> None:
        """Keep ``value`` until ``expires_at`` (on the cache's clock), else for ``ttl``, else the cache's own ttl."""
        if expires_at is None:
            lifetime = self.ttl if ttl is None else ttl
            expires_at = math.inf if lifetime is None else self._clock() + lifetime
        with self._lock:
            self._entries[key] = (expires_at, value)  # an instant already past stores nothing (and drops the key)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def pop_where(self, doomed: Callable[[V], bool]) -> None:
        """Drop every entry whose value ``doomed`` selects."""
        with self._lock:
            # Reading through the cache would count each entry as just used and reorder the LRU list.
            peek = cachetools.Cache.__getitem__
            for key in [key for key in list(self._entries) if doomed(peek(self._entries, key)[1])]:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            self._entries.expire()
            return len(self._entries)

    def _entry(self, key: K) -> tuple[float, V] | None:
        with self._lock:
            self._entries.expire()  # expired entries go now, not at the next write (cheap when none has)
            return self._entries.get(key)
