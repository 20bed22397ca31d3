"""Per-customer rate limits: tier values from the catalog, counting in the real (moto) DynamoDB table."""

import threading
import uuid
from types import SimpleNamespace

import pytest

from chalicelib.core import aws
from chalicelib.core.errors import RateLimited
from chalicelib.core.settings import get_settings
from chalicelib.ratelimit import counters, repository, service
from chalicelib.ratelimit.models import WINDOW_SECONDS, Limits

# Mid-slot, early in a 10-second window, far from a UTC midnight: 2030-03-01T12:00:00.25Z.
T0 = 1_898_596_800.25


@pytest.fixture
def limiter(stack, monkeypatch):
    """The limiter with a pinned clock and per-test limits for the starter tier (counting stays real)."""
    now = {"t": T0}
    monkeypatch.setattr(service, "clock", lambda: now["t"])
    service.clear_caches()

    def set_limits(tier="starter", **limits):
        service.tier_limits_cache.put(tier, Limits(**limits), ttl=3600)

    yield now, set_limits
    service.clear_caches()


def _hits(customer_id, n):
    """How many of ``n`` requests pass; the 429s' Retry-After values."""
    passed, retry_after = 0, []
    for _ in range(n):
        try:
            service.enforce(customer_id)
            passed += 1
        except RateLimited as exc:
            retry_after.append(exc.retry_after)
    return passed, retry_after


def test_tier_limits_come_from_the_feature_matrix(stack):
    service.clear_caches()
    assert service.limits_for_tier("starter") == Limits(per_second=10, burst=20, daily_quota=100_000)
    assert service.limits_for_tier("growth") == Limits(per_second=50, burst=100, daily_quota=1_000_000)
    assert service.limits_for_tier("enterprise") == Limits(per_second=200, burst=400, daily_quota=10_000_000)


def test_a_burst_over_the_limit_is_refused_for_the_rest_of_the_second(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=10, burst=3, daily_quota=1000)
    customer = make_customer()
    passed, retry_after = _hits(customer, 5)
    assert passed == 3
    assert retry_after == [1, 1]


def test_the_next_second_allows_a_new_burst_until_the_window_average_is_used_up(make_customer, limiter):
    now, set_limits = limiter
    set_limits(per_second=1, burst=4, daily_quota=1000)  # 10 per 10-second window, 4 per second
    customer = make_customer()
    assert _hits(customer, 4) == (4, [])
    now["t"] += 1
    assert _hits(customer, 4) == (4, [])
    now["t"] += 1
    passed, retry_after = _hits(customer, 4)
    assert passed == 2  # the window's 10 are used up
    # Refused by the window, not the burst: wait until the window ends (T0 is 0.25 s into it).
    assert retry_after == [WINDOW_SECONDS - 2, WINDOW_SECONDS - 2]
    now["t"] += WINDOW_SECONDS
    assert _hits(customer, 1) == (1, [])


def test_the_daily_quota_refuses_until_utc_midnight(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=100, burst=100, daily_quota=3)
    customer = make_customer()
    passed, retry_after = _hits(customer, 4)
    assert passed == 3
    assert retry_after == [12 * 3600]  # T0 is 12:00:00.25 UTC


def test_one_customer_exhausting_its_limit_does_not_affect_another(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=10, burst=2, daily_quota=1000)
    noisy, quiet = make_customer(), make_customer()
    assert _hits(noisy, 10)[0] == 2
    assert _hits(quiet, 2) == (2, [])


def test_each_tier_has_its_own_limits(make_customer, limiter):
    _, set_limits = limiter
    set_limits("starter", per_second=10, burst=1, daily_quota=1000)
    set_limits("growth", per_second=10, burst=5, daily_quota=1000)
    assert _hits(make_customer("starter"), 5)[0] == 1
    assert _hits(make_customer("growth"), 5)[0] == 5


def test_counting_is_atomic_under_concurrency(stack):
    """Many threads (as many containers) race on one customer: exactly the burst is admitted."""
    customer, admitted, lock = uuid.uuid4(), [], threading.Lock()
    limits = Limits(per_second=100, burst=7, daily_quota=1000)

    def hit():
        refusal = counters.count_request(customer, limits, T0)
        with lock:
            admitted.append(refusal is None)

    threads = [threading.Thread(target=hit) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 7


def _item(customer, day="2030-03-01"):
    return aws.client("dynamodb").get_item(
        TableName=get_settings().rate_limit_table,
        ConsistentRead=True,
        Key={"pk": {"S": f"{customer}#day#{day}"}, "sk": {"S": "limits"}},
    )["Item"]


def test_one_item_per_customer_and_day_holds_the_counters_and_expires(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=10, burst=20, daily_quota=1000)
    customer = make_customer()
    _hits(customer, 3)
    item = _item(customer)
    window_start = int(T0 // WINDOW_SECONDS) * WINDOW_SECONDS
    assert (item["d"], item["n"], item["s0"], item["w"]) == (
        {"N": "3"},
        {"N": "3"},
        {"N": "3"},
        {"N": str(window_start)},
    )
    assert int(item["expires_at"]["N"]) > T0 + 12 * 3600  # after the day is over
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=get_settings().rate_limit_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"


def test_a_new_window_resets_the_window_counters_but_not_the_day(make_customer, limiter):
    now, set_limits = limiter
    set_limits(per_second=10, burst=20, daily_quota=1000)
    customer = make_customer()
    _hits(customer, 2)
    now["t"] += 1
    _hits(customer, 1)
    now["t"] += WINDOW_SECONDS + 2  # next window, slot 3
    _hits(customer, 1)
    item = _item(customer)
    assert (item["d"], item["n"], item["s3"]) == ({"N": "4"}, {"N": "1"}, {"N": "1"})
    assert "s0" not in item and "s1" not in item


def test_refused_requests_count_nowhere(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=10, burst=2, daily_quota=1000)
    customer = make_customer()
    _hits(customer, 6)
    item = _item(customer)
    assert (item["d"], item["n"], item["s0"]) == ({"N": "2"}, {"N": "2"}, {"N": "2"})


def test_a_busy_customer_costs_one_update_per_request(make_customer, limiter, monkeypatch):
    _, set_limits = limiter
    set_limits(per_second=100, burst=100, daily_quota=1000)
    customer = make_customer()
    _hits(customer, 1)  # starts the window
    calls = []
    real = repository.conditional_update
    monkeypatch.setattr(repository, "conditional_update", lambda **kw: calls.append(kw) or real(**kw))
    _hits(customer, 5)
    assert len(calls) == 5


def test_another_process_without_the_hint_still_counts_in_the_same_window(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=10, burst=3, daily_quota=1000)
    customer = make_customer()
    assert _hits(customer, 2) == (2, [])
    counters.forget_windows()  # a second container: it tries to start the window, then joins it
    assert _hits(customer, 2) == (1, [1])
    assert _item(customer)["n"] == {"N": "3"}


def test_a_container_whose_clock_is_behind_counts_in_the_newer_window(make_customer, limiter):
    now, set_limits = limiter
    set_limits(per_second=10, burst=20, daily_quota=1000)
    customer = make_customer()
    now["t"] = T0 + WINDOW_SECONDS  # this container is a window ahead
    _hits(customer, 1)
    counters.forget_windows()
    now["t"] = T0 + WINDOW_SECONDS - 0.5  # the other is half a second behind, in the previous window
    assert _hits(customer, 1) == (1, [])
    item = _item(customer)
    assert item["w"] == {"N": str(int(T0 // WINDOW_SECONDS) * WINDOW_SECONDS + WINDOW_SECONDS)}
    assert item["n"] == {"N": "2"}


def test_an_unreachable_counter_table_lets_requests_through(make_customer, limiter, monkeypatch):
    _, set_limits = limiter
    set_limits(per_second=1, burst=1, daily_quota=1)
    monkeypatch.setattr(repository, "get_settings", lambda: SimpleNamespace(rate_limit_table="no-such-table"))
    assert _hits(make_customer(), 3) == (3, [])


def test_a_tier_without_limits_is_not_limited(make_customer, limiter):
    _, set_limits = limiter
    set_limits(per_second=None, burst=None, daily_quota=None)
    assert _hits(make_customer(), 30) == (30, [])
