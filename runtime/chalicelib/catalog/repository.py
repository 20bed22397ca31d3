"""The one place that reads the catalog tables (``tiers``, ``tier_features``) for the other areas.

Catalog rows belong to no tenant: every role reads them, on whatever
transaction the caller has open. A customer's tier is read through
row-level security like any tenant row (on a tenant transaction, only the
caller's own customer is there).
"""

from __future__ import annotations

import uuid

from chalicelib.catalog.features import TierFeatures
from chalicelib.core.db import Connection

FEATURES = "SELECT feature, value FROM tier_features WHERE tier_code = %(tier)s ORDER BY feature"
TIER_EXISTS = "SELECT 1 FROM tiers WHERE code = %(tier)s"
TIER_OF_CUSTOMER = "SELECT tier_code FROM customers WHERE id = %(id)s"


def features(conn: Connection, tier: str) -> TierFeatures:
    """Every feature of ``tier`` (none for an unknown tier)."""
    rows = conn.execute(FEATURES, {"tier": tier}).fetchall()
    return TierFeatures(tier, {row["feature"]: row["value"] for row in rows})


def tier_exists(conn: Connection, tier: str) -> bool:
    return conn.execute(TIER_EXISTS, {"tier": tier}).fetchone() is not None


def tier_of_customer(conn: Connection, customer_id: uuid.UUID) -> str | None:
    """The customer's tier code; ``None`` when the customer is not there (or not visible to ``conn``)."""
    row = conn.execute(TIER_OF_CUSTOMER, {"id": customer_id}).fetchone()
    return None if row is None else row["tier_code"]
