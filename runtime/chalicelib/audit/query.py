"""Reading a tenant's own audit trail, newest first (``GET /audit-events``).

Runs in the caller's ``tenant_transaction``: row-level security shows the
customer its own chain only (platform events, with no customer, never).
The chain columns (sequence, hashes) stay internal.
"""
from __future__ import annotations

import uuid

from chalicelib.audit.models import AuditEvent, AuditEventPage, AuditEventQuery
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
        rows = conn.execute(LIST_EVENTS, {"after_occurred_at": after_occurred_at, "after_id": after_id,
                                          "limit": query.limit + 1}).fetchall()
    items, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_keyset(items[-1]["occurred_at"], items[-1]["id"]) if more else None
    return AuditEventPage(items=[AuditEvent.model_validate(row) for row in items], next_cursor=next_cursor)
