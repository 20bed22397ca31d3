"""Catalog reads for callers without a transaction of their own (the rate limiter, per request)."""

from __future__ import annotations

import uuid

from chalicelib.catalog import repository
from chalicelib.catalog.features import TierFeatures
from chalicelib.core import db


def features_of_tier(tier: str) -> TierFeatures:
    """Every feature of ``tier``; catalog data, so no tenant context."""
    with db.plain_transaction() as conn:
        return repository.features(conn, tier)


def tier_of_customer(customer_id: uuid.UUID) -> str | None:
    """The customer's tier code, read as that tenant (``None``: no such customer)."""
    with db.tenant_transaction(customer_id) as conn:
        return repository.tier_of_customer(conn, customer_id)
