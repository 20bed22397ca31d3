"""Per-customer rate limits by tier: a sustained rate with a burst, and a daily quota.

Counting (see :mod:`chalicelib.ratelimit.counters`) uses aligned fixed
windows, in one DynamoDB item per customer and day:

* **rate**: at most ``rate_limit_per_second x WINDOW_SECONDS`` requests per
  10-second window, and at most ``rate_limit_burst`` within any one second of
  it — a client may burst, but its average over the window is bounded;
* **daily quota**: at most ``daily_request_quota`` requests per UTC day, counted
  only for requests the rate limit let through.

Over a limit → ``429`` with ``Retry-After`` (seconds until the refusing window
ends). The tier of a customer and the limits of a tier are cached in-process
briefly (``CUSTOMER_TIER_TTL``/``TIER_LIMITS_TTL``): a tier change takes effect
within that time. If DynamoDB cannot be reached the request is let through and
a warning logged — rate limiting protects the service, it must not take it down.
"""

from __future__ import annotations

import math
import time
import uuid

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.catalog import service as catalog
from chalicelib.catalog.features import DAILY_REQUEST_QUOTA, RATE_LIMIT_BURST, RATE_LIMIT_PER_SECOND, TierFeatures
from chalicelib.core import aws
from chalicelib.core.cache import LocalCache
from chalicelib.core.errors import RateLimited
from chalicelib.core.observability import dependency_degraded, logger
from chalicelib.ratelimit import counters
from chalicelib.ratelimit.models import WINDOW_SECONDS, Limits

TIER_LIMITS_TTL = 60.0
CUSTOMER_TIER_TTL = 30.0

# Wall-clock source for window boundaries; tests pin it for deterministic windows.
clock = time.time

tier_limits_cache: LocalCache[str, Limits] = LocalCache(ttl=TIER_LIMITS_TTL)
customer_tier_cache: LocalCache[uuid.UUID, str | None] = LocalCache(ttl=CUSTOMER_TIER_TTL)


def limits_for_tier(tier: str) -> Limits:
    """The tier's limits from its catalog features (cached)."""
    return tier_limits_cache.get_or_load(tier, _load_limits)


def enforce(customer_id: uuid.UUID) -> None:
    """Count one request of ``customer_id``; raise :class:`RateLimited` when it is over a limit."""
    tier = customer_tier_cache.get_or_load(customer_id, catalog.tier_of_customer)
    if tier is None:  # no such customer: authentication, not rate limiting, answers that
        return
    limits = limits_for_tier(tier)
    if limits.per_window is None and limits.per_slot is None and limits.daily_quota is None:
        return
    now = clock()
    try:
        refusal = counters.count_request(customer_id, limits, now)
    except (aws.DependencyUnavailable, BotoCoreError, ClientError) as exc:
        # Fail open: an outage of the counters' store must not become an outage of the API.
        dependency_degraded("dynamodb", "rate_limit_open", exc)
        return
    if refusal is None:
        return
    logger.info("rate limited", extra={"customer_id": str(customer_id), "limit": refusal.limit})
    if refusal.limit == "daily_quota":
        raise RateLimited(
            "Daily request quota exhausted; retry tomorrow (UTC)",
            retry_after=math.ceil(refusal.day_start + counters.DAY_SECONDS - now),
        )
    # rate: when the current window ends; burst: the next second
    retry_after = refusal.window_start + WINDOW_SECONDS - now if refusal.limit == "rate" else math.floor(now) + 1 - now
    raise RateLimited("Rate limit exceeded; retry later", retry_after=math.ceil(retry_after))


def _load_limits(tier: str) -> Limits:
    features = catalog.features_of_tier(tier)
    return Limits(
        per_second=_enforced(features, RATE_LIMIT_PER_SECOND),
        burst=_enforced(features, RATE_LIMIT_BURST),
        daily_quota=_enforced(features, DAILY_REQUEST_QUOTA),
    )


def _enforced(features: TierFeatures, name: str) -> int | None:
    limit = features.limit(name)
    if limit is None:
        logger.warning("tier has no usable rate limit; not enforced", extra={"tier": features.tier, "feature": name})
    return limit


def clear_caches() -> None:
    tier_limits_cache.clear()
    customer_tier_cache.clear()
    counters.forget_windows()
