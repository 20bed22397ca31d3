from chalicelib.ratelimit.cache import TtlCache


class FakeMonotonic:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_value_is_loaded_once_within_its_ttl_and_reloaded_after():
    clock, loads = FakeMonotonic(), []
    cache = TtlCache(ttl=60, monotonic=clock)

    def load(key):
        loads.append(key)
        return f"{key}-{len(loads)}"

    assert cache.get_or_load("starter", load) == "starter-1"
    clock.now += 59
    assert cache.get_or_load("starter", load) == "starter-1"
    clock.now += 2
    assert cache.get_or_load("starter", load) == "starter-2"
    assert loads == ["starter", "starter"]


def test_the_cache_stays_bounded():
    cache = TtlCache(ttl=60, max_entries=3, monotonic=FakeMonotonic())
    for i in range(10):
        cache.put(i, i)
    assert len(cache._entries) <= 3
