"""Where rate limits come from (PostgreSQL catalog) and where they are counted (DynamoDB).

Counters live in the ``metrics`` table: ``pk = "<customer>#<kind>#<window>"``,
``sk = <kind>``, one item per customer and window, expiring (TTL
``expires_at``) after the window is over. Each request is counted with ONE
conditional ``UpdateItem ... ADD``: DynamoDB increments only while the
condition holds, so concurrent requests (many Lambda containers) can never
push a counter past its limit, and one customer's items never touch another's.
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

# Sustained-rate window: the window total and the current one-second slot,
# both bounded in the same atomic update.
_RATE_UPDATE = "SET expires_at = :expires ADD #total :one, #slot :one"
_RATE_CONDITION = ("(attribute_not_exists(#total) OR #total < :per_window)"
                   " AND (attribute_not_exists(#slot) OR #slot < :per_slot)")
_QUOTA_UPDATE = "SET expires_at = :expires ADD #total :one"
_QUOTA_CONDITION = "attribute_not_exists(#total) OR #total < :quota"
_CONDITION_FAILED = "ConditionalCheckFailedException"
_UNBOUNDED = 2**62


def tier_limit_values(tier: str) -> dict[str, Any]:
    """The tier's rate-limit features as stored (``{feature: value}``); catalog data, no tenant."""
    with db.plain_transaction() as conn:
        rows = conn.execute(TIER_LIMITS, {"tier": tier, "features": list(LIMIT_FEATURES)}).fetchall()
    return {row["feature"]: row["value"] for row in rows}


def customer_tier(customer_id: uuid.UUID) -> str | None:
    with db.tenant_transaction(customer_id) as conn:
        row = conn.execute(CUSTOMER_TIER, {"id": customer_id}).fetchone()
    return row["tier_code"] if row else None


def count_rate(customer_id: uuid.UUID, *, window_start: int, slot: int, per_window: int | None,
               per_slot: int | None, expires_at: int) -> dict[str, int] | None:
    """Count one request in the window; ``None`` if counted, else the counters that refused it."""
    return _conditional_add(
        key=_key(customer_id, "rate", str(window_start)),
        update=_RATE_UPDATE,
        condition=_RATE_CONDITION,
        names={"#total": "n", "#slot": f"s{slot}"},
        values={":per_window": _number(per_window), ":per_slot": _number(per_slot)},
        expires_at=expires_at,
    )


def count_daily(customer_id: uuid.UUID, *, day: str, quota: int, expires_at: int) -> dict[str, int] | None:
    """Count one request against the day's quota; ``None`` if counted, else the refusing counter."""
    return _conditional_add(
        key=_key(customer_id, "day", day),
        update=_QUOTA_UPDATE,
        condition=_QUOTA_CONDITION,
        names={"#total": "n"},
        values={":quota": _number(quota)},
        expires_at=expires_at,
    )


def _key(customer_id: uuid.UUID, kind: str, window: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{customer_id}#{kind}#{window}"}, "sk": {"S": kind}}


def _number(value: int | None) -> dict[str, str]:
    return {"N": str(_UNBOUNDED if value is None else value)}


def _conditional_add(*, key: dict, update: str, condition: str, names: dict[str, str],
                     values: dict[str, dict[str, str]], expires_at: int) -> dict[str, int] | None:
    try:
        aws.client("dynamodb").update_item(
            TableName=get_settings().metrics_table,
            Key=key,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":one": {"N": "1"}, ":expires": {"N": str(expires_at)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != _CONDITION_FAILED:
            raise
        item = exc.response.get("Item") or {}
        return {name: int(value["N"]) for name, value in item.items() if "N" in value}
    return None
