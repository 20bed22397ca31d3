"""One reading of a tier's stored feature values for every area (customers, keys, rate limiting)."""

from __future__ import annotations

import pytest

from chalicelib.catalog.features import LIMIT_FEATURES, MAX_API_KEYS, RATE_LIMIT_BURST, TierFeatures, parse_limit


@pytest.mark.parametrize(
    "stored, limit",
    [(25, 25), (1, 1), (0, None), (-3, None), (None, None), (True, None), ("25", None), (2.5, None)],
)
def test_a_limit_is_enforced_only_when_it_is_a_positive_integer(stored, limit):
    assert parse_limit(stored) == limit


def test_limits_are_the_four_limit_features_as_stored_and_capabilities_are_not_limits():
    features = TierFeatures(
        "growth",
        {"sso": True, "support_level": "priority", MAX_API_KEYS: 25, RATE_LIMIT_BURST: 0, "rate_limit_per_second": 50},
    )
    assert features.limits == {MAX_API_KEYS: 25, RATE_LIMIT_BURST: 0, "rate_limit_per_second": 50}
    assert features.limit(MAX_API_KEYS) == 25
    assert features.limit(RATE_LIMIT_BURST) is None  # stored, but not a usable limit
    assert features.limit("daily_request_quota") is None  # missing
    assert set(LIMIT_FEATURES) == {"rate_limit_per_second", "rate_limit_burst", "daily_request_quota", MAX_API_KEYS}
