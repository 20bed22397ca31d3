"""Where rate limits come from (the PostgreSQL catalog) and the DynamoDB call that counts them.

The counting itself (which item, which condition) is :mod:`chalicelib.ratelimit.counters`.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import aws, db
from chalicelib.core.settings import get_settings
from chalicelib.ratelimit.models import LIMIT_FEATURES

TIER_LIMITS = """
SELECT feature, value
  FROM tier_features
 WHERE tier_code = %(tier)s AND feature = ANY(%(features)s)
"""

CUSTOMER_TIER = "SELECT tier_code FROM customers WHERE id = %(id)s"

_CONDITION_FAILED = "ConditionalCheckFailedException"


def tier_limit_values(tier: str) -> dict[str, Any]:
    """The tier's rate-limit features as stored (``{feature: value}``); catalog data, no tenant."""
    with db.plain_transaction() as conn:
        rows = conn.execute(TIER_LIMITS, {"tier": tier, "features": list(LIMIT_FEATURES)}).fetchall()
    return {row["feature"]: row["value"] for row in rows}


def customer_tier(customer_id: uuid.UUID) -> str | None:
    with db.tenant_transaction(customer_id) as conn:
        row = conn.execute(CUSTOMER_TIER, {"id": customer_id}).fetchone()
    return row["tier_code"] if row else None


def conditional_update(
    *,
    key: dict[str, dict[str, str]],
    update: str,
    condition: str,
    names: dict[str, str],
    values: dict[str, dict[str, str]],
) -> dict[str, int] | None:
    """One conditional ``UpdateItem`` on the counters table.

    Returns ``None`` when the update was applied, else the item's numeric
    attributes as they were when the condition refused it (``{}``: no item).
    """
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().metrics_table,
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
            raise
        item = exc.response.get("Item") or {}
        return {name: int(value["N"]) for name, value in item.items() if "N" in value}
    return None
