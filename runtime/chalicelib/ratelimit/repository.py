"""The DynamoDB call that counts requests in the rate-limit counters table.

The limits come from the catalog (:mod:`chalicelib.catalog`); the counting
itself (which item, which condition) is :mod:`chalicelib.ratelimit.counters`.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from chalicelib.core import aws
from chalicelib.core.settings import get_settings

_CONDITION_FAILED = "ConditionalCheckFailedException"


def _counters_table() -> str:
    return get_settings().rate_limit_table


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
            TableName=_counters_table(),
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
