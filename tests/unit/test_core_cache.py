"""The runtime's one in-process cache: expiry, bound (least recently used out first), loads, targeted drops."""

from __future__ import annotations

import threading

from chalicelib.core.cache import LocalCache


class FakeMonotonic:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_value_is_loaded_once_within_its_ttl_and_reloaded_after():
    clock, loads = FakeMonotonic(), []
    cache = LocalCache(ttl=60, clock=clock)

    def load(key):
        loads.append(key)
        return f"{key}-{len(loads)}"

    assert cache.get_or_load("starter", load) == "starter-1"
    clock.now += 59
    assert cache.get_or_load("starter", load) == "starter-1"
    clock.now += 2
    assert cache.get_or_load("starter", load) == "starter-2"
    assert loads == ["starter", "starter"]


def test_a_loaded_none_is_kept_like_any_value():
    loads = []
    cache = LocalCache(ttl=60, clock=FakeMonotonic())
    assert cache.get_or_load("unknown", loads.append) is None
    assert cache.get_or_load("unknown", loads.append) is None
    assert loads == ["unknown"]


def test_the_cache_stays_bounded():
    cache = LocalCache(ttl=60, max_entries=3, clock=FakeMonotonic())
    for i in range(10):
        cache.put(i, i)
    assert len(cache) <= 3


def test_the_least_recently_used_entry_goes_first_at_the_bound():
    cache = LocalCache(max_entries=2, clock=FakeMonotonic())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_an_entry_put_with_its_own_expiry_or_ttl_keeps_it():
    clock = FakeMonotonic()
    cache = LocalCache(ttl=60, clock=clock)
    cache.put("until", "x", expires_at=130)
    cache.put("longer", "y", ttl=3600)
    cache.put("past", "z", expires_at=100)  # already over: nothing is kept
    assert cache.get("past") is None
    clock.now = 129
    assert (cache.get("until"), cache.get("longer")) == ("x", "y")
    clock.now = 130
    assert cache.get("until") is None
    clock.now = 3699
    assert cache.get("longer") == "y"


def test_without_a_ttl_an_entry_stays_until_evicted():
    clock = FakeMonotonic()
    cache = LocalCache(max_entries=1, clock=clock)
    cache.put(1, "document")
    clock.now += 10**9
    assert cache.get(1) == "document"
    cache.put(2, "newer")
    assert cache.get(1) is None


def test_pop_where_drops_only_the_selected_entries_and_keeps_the_lru_order():
    cache = LocalCache(max_entries=3, clock=FakeMonotonic())
    cache.put("used", 1)
    cache.put("doomed", 2)
    cache.put("unused", 3)
    assert cache.get("used") == 1  # now the most recently used
    cache.pop_where(lambda value: value == 2)
    cache.put("newer", 4)
    cache.put("newest", 5)  # the bound: "unused" goes, whatever pop_where looked at
    assert [cache.get(k) for k in ("doomed", "unused", "used", "newer", "newest")] == [None, None, 1, 4, 5]


def test_pop_and_clear():
    cache = LocalCache(clock=FakeMonotonic())
    cache.put("a", 1)
    cache.put("b", 2)
    cache.pop("a")
    cache.pop("missing")
    assert (cache.get("a"), cache.get("b")) == (None, 2)
    cache.clear()
    assert len(cache) == 0


def test_concurrent_writers_and_readers_never_break_the_bound():
    cache = LocalCache(max_entries=50, ttl=60)

    def work(offset):
        for i in range(2000):
            cache.put(offset + i % 200, i)
            cache.get(offset + (i * 7) % 200)
            if i % 100 == 0:
                cache.pop_where(lambda value: value % 3 == 0)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 50
