"""SQL of the webhooks area (migration 0041). Every function runs on the caller's connection and transaction.

In a tenant transaction row-level security confines every statement to the
tenant; in an operator transaction (the billing run, the sender job) the
statements that must stay within one tenant name it explicitly.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset
from chalicelib.webhooks.models import ClaimedDelivery

# Serializes changes to one tenant's set of endpoints (count-then-insert), as keys do.
LOCK_TENANT_ENDPOINTS = (
    "SELECT pg_advisory_xact_lock(hashtextextended('webhook_endpoints:' || %(customer_id)s::text, 0))"
)
COUNT_LIVE = "SELECT count(*) AS n FROM webhook_endpoints WHERE deleted_at IS NULL"

ENDPOINT_COLUMNS = "id, customer_id, url, description, events, created_at"
INSERT_ENDPOINT = f"""
INSERT INTO webhook_endpoints (id, customer_id, url, description, events, secret_sealed)
VALUES (%(id)s, %(customer_id)s, %(url)s, %(description)s, %(events)s, %(secret_sealed)s)
RETURNING {ENDPOINT_COLUMNS}
"""
# Newest first: a keyset page (core.pagination) on webhook_endpoints_live_idx.
LIST_ENDPOINTS = f"""
SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
 WHERE deleted_at IS NULL
   AND (%(after_created_at)s::timestamptz IS NULL
        OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
LIVE_ENDPOINT = "SELECT id FROM webhook_endpoints WHERE id = %(id)s AND deleted_at IS NULL"
# Deleting keeps the row (the delivery history names it) and destroys the secret.
DELETE_ENDPOINT = """
UPDATE webhook_endpoints SET deleted_at = now(), secret_sealed = NULL
 WHERE id = %(id)s AND deleted_at IS NULL
RETURNING id, url
"""
# What was still to be sent there never will be.
ABANDON_ENDPOINT_DELIVERIES = """
UPDATE webhook_deliveries SET status = 'dead', next_attempt_at = NULL
 WHERE endpoint_id = %(id)s AND status IN ('pending', 'failed')
"""

# One statement for any number of events: the subscribed live endpoints of each event's tenant
# (an index probe per tenant), the events that have at least one (only those are stored), and
# a delivery per pair. With no endpoint subscribed it reads one index and writes nothing.
# Arrays in binary (%b): in text psycopg escapes each element in Python (a billing run emits thousands).
EMIT = """
WITH input AS (
    SELECT * FROM unnest(%(ids)b::uuid[], %(customer_ids)b::uuid[], %(types)b::text[], %(data)b::text[])
             AS i(id, customer_id, type, data)
), targets AS (
    SELECT i.id AS event_id, i.customer_id, e.id AS endpoint_id
      FROM input i
      JOIN webhook_endpoints e ON e.customer_id = i.customer_id AND e.deleted_at IS NULL AND i.type = ANY(e.events)
), events AS (
    INSERT INTO webhook_events (id, customer_id, type, data)
    SELECT i.id, i.customer_id, i.type, i.data::jsonb FROM input i
     WHERE EXISTS (SELECT 1 FROM targets t WHERE t.event_id = i.id)
    RETURNING id
)
INSERT INTO webhook_deliveries (customer_id, endpoint_id, event_id)
SELECT t.customer_id, t.endpoint_id, t.event_id FROM targets t JOIN events v ON v.id = t.event_id
RETURNING event_id
"""

# Which of these tenants have a live endpoint subscribed to which of these types (an index probe each).
SUBSCRIBED = """
SELECT DISTINCT e.customer_id, t.type
  FROM webhook_endpoints e CROSS JOIN unnest(%(types)b::text[]) AS t(type)
 WHERE e.customer_id = ANY(%(customer_ids)b::uuid[]) AND e.deleted_at IS NULL AND t.type = ANY(e.events)
"""

# Due now, not under someone's lease; optionally only some events' (right after they were
# emitted), never those of endpoints this run already found unresponsive.
# (A delivery a deleted endpoint still has - emitted while the deletion committed - is never due.)
DUE = """
SELECT d.id, d.endpoint_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
 WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at <= clock_timestamp()
   AND (d.sending_until IS NULL OR d.sending_until < clock_timestamp())
   AND e.deleted_at IS NULL
   AND (%(events)s::uuid[] IS NULL OR d.event_id = ANY(%(events)s::uuid[]))
   AND NOT (d.endpoint_id = ANY(%(skip)s::uuid[]))
 ORDER BY d.next_attempt_at, d.id
 LIMIT %(limit)s
"""

_CLAIMED = """
RETURNING d.id, d.customer_id, d.endpoint_id, d.event_id, d.status, d.attempts, e.url, e.secret_sealed,
          v.type AS event_type, v.data AS event_data, v.created_at AS event_created_at
"""
# A lease committed before the send: a concurrent sender skips the row while it runs (the
# second UPDATE waits for the first's row lock, then finds the lease). Never for a deleted endpoint.
CLAIM_DUE = f"""
UPDATE webhook_deliveries d SET sending_until = clock_timestamp() + make_interval(secs => %(lease_s)s)
  FROM webhook_endpoints e, webhook_events v
 WHERE d.id = %(id)s AND e.id = d.endpoint_id AND v.id = d.event_id AND e.deleted_at IS NULL
   AND d.status IN ('pending', 'failed') AND d.next_attempt_at <= clock_timestamp()
   AND (d.sending_until IS NULL OR d.sending_until < clock_timestamp())
{_CLAIMED}
"""
# A manual retry: whatever the delivery's status, as long as nobody is sending it right now.
CLAIM_FOR_RETRY = f"""
UPDATE webhook_deliveries d SET sending_until = clock_timestamp() + make_interval(secs => %(lease_s)s)
  FROM webhook_endpoints e, webhook_events v
 WHERE d.id = %(id)s AND e.id = d.endpoint_id AND v.id = d.event_id AND e.deleted_at IS NULL
   AND (d.sending_until IS NULL OR d.sending_until < clock_timestamp())
{_CLAIMED}
"""
DELIVERY_OF_ATTEMPT = """
SELECT a.delivery_id FROM webhook_delivery_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id
 WHERE a.id = %(attempt_id)s AND a.endpoint_id = %(endpoint_id)s AND e.deleted_at IS NULL
"""
RELEASE = "UPDATE webhook_deliveries SET sending_until = NULL WHERE id = %(id)s"

ATTEMPT_COLUMNS = "id, event_id, attempt, status_code, succeeded, created_at, next_attempt_at"
# One attempt's outcome: the delivery moves on and the attempt is recorded, in one statement.
# "attempts = the claimed count" makes it idempotent: a record retried after a COMMIT whose
# outcome was unknown changes nothing the second time.
RECORD = f"""
WITH moved AS (
    UPDATE webhook_deliveries
       SET attempts = attempts + 1, status = %(status)s, last_status_code = %(status_code)s, sending_until = NULL,
           next_attempt_at = CASE WHEN %(delay_s)s::integer IS NULL THEN NULL
                                  ELSE clock_timestamp() + make_interval(secs => %(delay_s)s::integer) END
     WHERE id = %(id)s AND attempts = %(claimed_attempts)s
    RETURNING id, customer_id, endpoint_id, event_id, attempts, next_attempt_at
)
INSERT INTO webhook_delivery_attempts (customer_id, delivery_id, endpoint_id, event_id, attempt, status_code,
                                       succeeded, error, response_prefix, next_attempt_at)
SELECT customer_id, id, endpoint_id, event_id, attempts, %(status_code)s, %(succeeded)s, %(error)s,
       %(response_prefix)s, next_attempt_at
  FROM moved
ON CONFLICT ON CONSTRAINT webhook_delivery_attempts_once DO NOTHING
RETURNING {ATTEMPT_COLUMNS}
"""

ATTEMPT = (
    f"SELECT {ATTEMPT_COLUMNS} FROM webhook_delivery_attempts WHERE delivery_id = %(id)s AND attempt = %(attempt)s"
)

# Newest first: a keyset page on webhook_delivery_attempts_endpoint_idx.
LIST_ATTEMPTS = """
SELECT a.id, a.event_id, v.type AS event_type, a.attempt, a.status_code, a.succeeded, a.created_at,
       a.next_attempt_at
  FROM webhook_delivery_attempts a JOIN webhook_events v ON v.id = a.event_id
 WHERE a.endpoint_id = %(endpoint_id)s
   AND (%(after_created_at)s::timestamptz IS NULL
        OR (a.created_at, a.id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
 ORDER BY a.created_at DESC, a.id DESC
 LIMIT %(limit)s
"""


def lock_tenant_endpoints(conn: Connection, customer_id: uuid.UUID) -> None:
    conn.execute(LOCK_TENANT_ENDPOINTS, {"customer_id": customer_id})


def count_live(conn: Connection) -> int:
    live: int = single_row(conn.execute(COUNT_LIVE))["n"]
    return live


def insert_endpoint(
    conn: Connection,
    *,
    endpoint_id: uuid.UUID,
    customer_id: uuid.UUID,
    url: str,
    description: str,
    events: Sequence[str],
    secret_sealed: bytes,
) -> dict[str, Any]:
    params = {
        "id": endpoint_id,
        "customer_id": customer_id,
        "url": url,
        "description": description,
        "events": list(events),
        "secret_sealed": secret_sealed,
    }
    return single_row(conn.execute(INSERT_ENDPOINT, params))


def list_endpoints(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    after_created_at, after_id = after or (None, None)
    params = {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    return conn.execute(LIST_ENDPOINTS, params).fetchall()


def endpoint_is_live(conn: Connection, endpoint_id: uuid.UUID) -> bool:
    return conn.execute(LIVE_ENDPOINT, {"id": endpoint_id}).fetchone() is not None


def delete_endpoint(conn: Connection, endpoint_id: uuid.UUID) -> dict[str, Any] | None:
    """Mark the endpoint deleted (secret destroyed) and abandon what was still to be sent there."""
    row = conn.execute(DELETE_ENDPOINT, {"id": endpoint_id}).fetchone()
    if row is not None:
        conn.execute(ABANDON_ENDPOINT_DELIVERIES, {"id": endpoint_id})
    return row


def emit(conn: Connection, events: Sequence[tuple[uuid.UUID, uuid.UUID, str, str]]) -> list[uuid.UUID]:
    """Store ``(event id, customer id, type, data as JSON text)`` events that have subscribers, with their
    deliveries; returns the ids of the events stored (one per delivery: repeated when several endpoints)."""
    params = {
        "ids": [event[0] for event in events],
        "customer_ids": [event[1] for event in events],
        "types": [event[2] for event in events],
        "data": [event[3] for event in events],
    }
    return [row["event_id"] for row in conn.execute(EMIT, params).fetchall()]


def subscribed(conn: Connection, customer_ids: Sequence[uuid.UUID], types: Sequence[str]) -> set[tuple[uuid.UUID, str]]:
    params = {"customer_ids": list(customer_ids), "types": list(types)}
    return {(row["customer_id"], row["type"]) for row in conn.execute(SUBSCRIBED, params)}


def due(
    conn: Connection, *, limit: int, event_ids: Sequence[uuid.UUID] | None, skip: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to ``limit`` due deliveries, oldest first: (delivery id, endpoint id)."""
    params = {"limit": limit, "events": None if event_ids is None else list(event_ids), "skip": list(skip)}
    return [(row["id"], row["endpoint_id"]) for row in conn.execute(DUE, params).fetchall()]


def claim_due(conn: Connection, delivery_id: uuid.UUID, *, lease_s: int) -> ClaimedDelivery | None:
    row = conn.execute(CLAIM_DUE, {"id": delivery_id, "lease_s": lease_s}).fetchone()
    return None if row is None else ClaimedDelivery(**row)


def claim_for_retry(conn: Connection, delivery_id: uuid.UUID, *, lease_s: int) -> ClaimedDelivery | None:
    row = conn.execute(CLAIM_FOR_RETRY, {"id": delivery_id, "lease_s": lease_s}).fetchone()
    return None if row is None else ClaimedDelivery(**row)


def delivery_of_attempt(conn: Connection, endpoint_id: uuid.UUID, attempt_id: uuid.UUID) -> uuid.UUID | None:
    """The delivery an attempt of this live endpoint belongs to; ``None`` when there is no such attempt."""
    row = conn.execute(DELIVERY_OF_ATTEMPT, {"endpoint_id": endpoint_id, "attempt_id": attempt_id}).fetchone()
    return None if row is None else row["delivery_id"]


def release(conn: Connection, delivery_id: uuid.UUID) -> None:
    conn.execute(RELEASE, {"id": delivery_id})


def record(
    conn: Connection,
    delivery: ClaimedDelivery,
    *,
    status: str,
    delay_s: int | None,
    status_code: int | None,
    succeeded: bool,
    error: str | None,
    response_prefix: str,
) -> dict[str, Any] | None:
    """Record one attempt; ``None`` when it was recorded already (a retried record whose COMMIT had landed)."""
    params = {
        "id": delivery.id,
        "claimed_attempts": delivery.attempts,
        "status": status,
        "delay_s": delay_s,
        "status_code": status_code,
        "succeeded": succeeded,
        "error": error,
        "response_prefix": response_prefix,
    }
    return conn.execute(RECORD, params).fetchone()


def attempt(conn: Connection, delivery_id: uuid.UUID, number: int) -> dict[str, Any] | None:
    return conn.execute(ATTEMPT, {"id": delivery_id, "attempt": number}).fetchone()


def list_attempts(
    conn: Connection, endpoint_id: uuid.UUID, *, limit: int, after: Keyset | None
) -> list[dict[str, Any]]:
    after_created_at, after_id = after or (None, None)
    params = {"endpoint_id": endpoint_id, "after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    return conn.execute(LIST_ATTEMPTS, params).fetchall()
