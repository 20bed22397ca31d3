"""Reading a tenant's own audit trail, newest first (``GET /audit-events``), and its chain head.

Runs in the caller's ``tenant_transaction``: row-level security shows the
customer its own chain only (platform events, with no customer, never).
The chain columns (sequence, hashes) stay internal, except the newest link
(``GET /audit-events/head``): a customer who keeps it can later have the
chain checked against it (``verify_audit_chain`` recomputes every hash up to
that event), so history before it cannot be rewritten unnoticed.
"""

from __future__ import annotations

import uuid

from chalicelib.audit.models import AuditChainHead, AuditEvent, AuditEventPage, AuditEventQuery
from chalicelib.core import db
from chalicelib.core.pagination import decode_keyset, encode_keyset

# Keyset pagination on the (customer_id, occurred_at DESC, id DESC) index.
LIST_EVENTS = """
SELECT id, occurred_at, actor, action, target_type, target_id, detail, request_id
  FROM audit_events
 WHERE %(after_occurred_at)s::timestamptz IS NULL
    OR (occurred_at, id) < (%(after_occurred_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY occurred_at DESC, id DESC
 LIMIT %(limit)s
"""


def list_events(customer_id: uuid.UUID, query: AuditEventQuery) -> AuditEventPage:
    """``query.limit`` events of ``customer_id``'s trail after ``query.cursor``, newest first."""
    after = decode_keyset(query.cursor)
    after_occurred_at, after_id = after if after is not None else (None, None)
    with db.tenant_transaction(customer_id) as conn:
        rows = conn.execute(
            LIST_EVENTS, {"after_occurred_at": after_occurred_at, "after_id": after_id, "limit": query.limit + 1}
        ).fetchall()
    items, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_keyset(items[-1]["occurred_at"], items[-1]["id"]) if more else None
    return AuditEventPage(items=[AuditEvent.model_validate(row) for row in items], next_cursor=next_cursor)


# The (chain_key, chain_seq) unique index: one index probe. A customer's chain key is its id.
CHAIN_HEAD = """
SELECT head.id AS last_event_id, head.chain_seq, encode(head.hash, 'hex') AS last_hash,
       clock_timestamp() AS as_of
  FROM (SELECT 1) AS always
  LEFT JOIN LATERAL (SELECT id, chain_seq, hash FROM audit_events
                      WHERE chain_key = %(customer_id)s
                      ORDER BY chain_seq DESC LIMIT 1) AS head ON true
"""


def chain_head(customer_id: uuid.UUID) -> AuditChainHead:
    """The newest event of ``customer_id``'s chain (count 0 and nulls when it has none)."""
    with db.tenant_transaction(customer_id) as conn:
        row = conn.execute(CHAIN_HEAD, {"customer_id": customer_id}).fetchone()
    return AuditChainHead(
        count=row["chain_seq"] or 0, last_event_id=row["last_event_id"], last_hash=row["last_hash"], as_of=row["as_of"]
    )
