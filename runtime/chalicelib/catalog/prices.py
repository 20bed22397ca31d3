"""What a tier costs: its monthly base fee and, per metric, the units it includes and the price of each unit beyond.

Rows of ``tiers`` and ``tier_prices`` (seeded in migration 0003). The rule
that usage beyond the included units is billable lives here once: billing
prices it, and ``GET /metrics`` shows it before any invoice exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MetricRate:
    metric_code: str
    metric_name: str
    included: Decimal
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class Plan:
    """A tier's prices: the monthly base fee and one rate per metric."""

    tier_code: str
    tier_name: str
    base_fee: Decimal
    rates: tuple[MetricRate, ...]


def billable_units(used: Decimal, included: Decimal) -> Decimal:
    """``max(0, used - included)``: the units of a month's usage that the tier does not include."""
    return max(Decimal(0), used - included)
