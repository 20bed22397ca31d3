"""The failed-attempt throttle: failures counted per public id and client address, per 5-minute window.

``cache`` table items ``authfail#<scope>#<window start>`` (``count``, TTL two
windows). Authentication counts each failed attempt against
:func:`throttle_scope` and refuses (429) an address that reached
``MAX_FAILURES`` in the window before any bcrypt work; it also counts one
failure and one lockout per public id and window, so the ``auth.failed`` and
``auth.locked_out`` audit events stay bounded (``auth.authentication``).

When DynamoDB cannot serve, the throttle fails open: bcrypt's cost still
bounds guessing, and the audit events deduplicated through it are skipped
rather than written unbounded (``auth.dynamodb``).
"""

from __future__ import annotations

from chalicelib.auth import dynamodb
from chalicelib.auth.dynamodb import n, s

# Failed attempts against one public id *from one client address* per window
# before 429. Per address, not per public id alone: the public id is no
# secret (key lists, audit details, logs), and a counter anyone can fill would
# let anyone lock the key's holder out. An address that keeps guessing is
# stopped before any bcrypt work; the holder, elsewhere, is not.
MAX_FAILURES = 10
FAILURE_WINDOW = 300


def throttle_scope(public_id: str, client_address: str | None) -> str:
    """What failed attempts are counted against: the public id as seen from one client address."""
    address = (client_address or "unknown")[:64]
    return f"{public_id}#{address}"


@dynamodb.degrades_to("auth_throttle_open", lambda: (0, FAILURE_WINDOW))
def failures(scope: str, now: int) -> tuple[int, int]:
    """Failed attempts counted against ``scope`` in the current window, and seconds until it ends."""
    window = now - now % FAILURE_WINDOW
    item = dynamodb.consistent_get(dynamodb.cache_table(), f"authfail#{scope}#{window}")
    count = item["count"] if item else 0
    return count, window + FAILURE_WINDOW - now


@dynamodb.degrades_to("auth_failure_not_counted", lambda: 0)
def record_failure(scope: str, now: int) -> int:
    """Count one failure against ``scope`` in the current window; return the window's count so far."""
    window = now - now % FAILURE_WINDOW
    result = dynamodb.client().update_item(
        TableName=dynamodb.cache_table(),
        Key={"pk": s(f"authfail#{scope}#{window}")},
        UpdateExpression="ADD #c :one SET expires_at = :ttl",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": n(1), ":ttl": n(window + 2 * FAILURE_WINDOW)},
        ReturnValues="UPDATED_NEW",
    )
    return int(result["Attributes"]["count"]["N"])
