"""A tier's features, as ``tier_features`` stores them (one JSON value per feature; seeded in migration 0003).

Most features are capabilities (``sso``, ``support_level``); four are *limits*.
``GET /customers/me`` shows every feature, and the limits again under
``limits`` with the same names; the rate limiter enforces three of them, key
management the fourth. A limit is enforced only when it is a positive integer:
anything else (missing, ``null``, ``0``, text) means that dimension is not
limited — one reading of a stored value for every area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RATE_LIMIT_PER_SECOND = "rate_limit_per_second"
RATE_LIMIT_BURST = "rate_limit_burst"
DAILY_REQUEST_QUOTA = "daily_request_quota"
MAX_API_KEYS = "max_api_keys"

# The features that are limits rather than capabilities.
LIMIT_FEATURES = (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST, DAILY_REQUEST_QUOTA, MAX_API_KEYS)


def parse_limit(value: Any) -> int | None:
    """A limit feature's stored value as the limit to enforce; ``None`` when it does not limit."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


@dataclass(frozen=True, slots=True)
class TierFeatures:
    """Every feature of one tier, ``{feature: value}`` as stored."""

    tier: str
    values: dict[str, Any] = field(hash=False)

    @property
    def limits(self) -> dict[str, Any]:
        """The limit features as stored (what ``GET /customers/me`` shows under ``limits``)."""
        return {name: value for name, value in self.values.items() if name in LIMIT_FEATURES}

    def limit(self, name: str) -> int | None:
        """The enforceable value of limit ``name``; ``None``: not limited (see :func:`parse_limit`)."""
        return parse_limit(self.values.get(name))
