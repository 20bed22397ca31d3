"""Rate limits through the routes: one customer over its burst gets 429 + Retry-After, others do not.

The limits of the starter tier are lowered for the test and the clock pinned
(so the burst cannot straddle a second boundary); authentication, the guard
order and the counting in the (moto) DynamoDB metrics table are all real.
"""

import json

import pytest

from chalicelib.core.cache import LocalCache
from chalicelib.ratelimit import service
from chalicelib.ratelimit.models import Limits

T0 = 1_898_596_800.25  # 2030-03-01T12:00:00.25Z


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(service, "clock", lambda: T0)
    monkeypatch.setattr(service, "tier_limits_cache", LocalCache(ttl=3600))
    monkeypatch.setattr(service, "customer_tier_cache", LocalCache(ttl=3600))
    service.tier_limits_cache.put("starter", Limits(per_second=10, burst=3, daily_quota=1000))


def test_a_customer_over_its_burst_gets_429_with_retry_after_while_another_gets_200(client, new_customer, small_limits):
    noisy, quiet = new_customer("starter"), new_customer("starter")
    statuses = [client.http.get("/support-tickets", headers=noisy.headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = client.http.get("/support-tickets", headers=noisy.headers)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert json.loads(limited.body)["Code"] == "TooManyRequestsError"
    assert limited.headers["X-Request-Id"]
    assert client.http.get("/support-tickets", headers=quiet.headers).status_code == 200


def test_operators_and_public_routes_are_not_limited(client, operator_headers, small_limits):
    for _ in range(6):
        assert client.http.get("/admin/customers?limit=1", headers=operator_headers).status_code == 200
        assert client.http.get("/health").status_code == 200


def test_unauthenticated_calls_are_401_not_counted(client, small_limits):
    assert [client.http.get("/support-tickets").status_code for _ in range(5)] == [401] * 5


def test_customers_me_shows_the_seeded_limits_under_the_names_the_limiter_reads(client, new_customer):
    me = json.loads(client.http.get("/customers/me", headers=new_customer("growth").headers).body)
    assert {key: me["limits"][key] for key in ("rate_limit_per_second", "rate_limit_burst", "daily_request_quota")} == {
        "rate_limit_per_second": 50,
        "rate_limit_burst": 100,
        "daily_request_quota": 1_000_000,
    }
    assert service.limits_for_tier("growth") == Limits(per_second=50, burst=100, daily_quota=1_000_000)
