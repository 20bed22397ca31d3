"""Reading the audit trail, and its retention purge, in PostgreSQL (writing it is ``recorder``'s).

Reads run in the caller's ``tenant_transaction``: row-level security shows the
customer its own chain only (platform events, with no customer, never).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

# Newest first: a keyset page (core.pagination) on the (customer_id, occurred_at DESC, id DESC) index.
LIST_EVENTS = """
SELECT id, occurred_at, actor, action, target_type, target_id, detail, request_id
  FROM audit_events
 WHERE %(after_occurred_at)s::timestamptz IS NULL
    OR (occurred_at, id) < (%(after_occurred_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY occurred_at DESC, id DESC
 LIMIT %(limit)s
"""

# The (chain_key, chain_seq) unique index: one index probe. A customer's chain key is its id.
CHAIN_HEAD = """
SELECT head.id AS last_event_id, head.chain_seq, encode(head.hash, 'hex') AS last_hash,
       clock_timestamp() AS as_of
  FROM (SELECT 1) AS always
  LEFT JOIN LATERAL (SELECT id, chain_seq, hash FROM audit_events
                      WHERE chain_key = %(customer_id)s
                      ORDER BY chain_seq DESC LIMIT 1) AS head ON true
"""

# The function runs as its own role (migration 0034): the only way anything deletes audit events.
PURGE_EXPIRED = "SELECT purge_expired_audit_events() AS purged"


def list_events(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` events older than ``after`` (occurred_at, id), newest first."""
    after_occurred_at, after_id = after or (None, None)
    return conn.execute(
        LIST_EVENTS, {"after_occurred_at": after_occurred_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def chain_head(conn: Connection, customer_id: uuid.UUID) -> dict[str, Any]:
    """The newest link of ``customer_id``'s chain (``chain_seq`` and the rest null when it has none)."""
    return single_row(conn.execute(CHAIN_HEAD, {"customer_id": customer_id}))  # LEFT JOIN on one row: always one


def purge_expired(conn: Connection) -> int:
    """Delete the events past the 7-year retention; how many went."""
    purged: int = single_row(conn.execute(PURGE_EXPIRED))["purged"]
    return purged
