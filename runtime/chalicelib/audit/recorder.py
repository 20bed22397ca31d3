"""Appending to the audit trail, from inside the caller's own transaction.

Every area records its events through :func:`record`, on the connection of the
unit of work that made the change, so an event exists exactly when its change
was committed. The database links each row into its customer's hash chain and
writes the two things no caller may choose (migration 0034): ``occurred_at``,
from its own clock, and ``actor``, from the transaction's ``app.actor``, which
``core.db``'s transactions set from the authenticated principal (or the job's
own name given to them). Never put a secret, key or token in ``detail``: it is
kept for seven years.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from chalicelib.core import context

# How the trail names who acted; their home is core.context (core.db hands them to the database).
from chalicelib.core.context import actor_for, current_actor  # noqa: F401
from chalicelib.core.db import Connection

# No occurred_at, no actor: the audit trigger sets both (see the module docstring).
_INSERT = """
INSERT INTO audit_events (customer_id, action, target_type, target_id, detail, request_id)
VALUES (%(customer_id)s, %(action)s, %(target_type)s, %(target_id)s, %(detail)s, %(request_id)s)
"""
_SET_ACTOR = "SELECT set_config('app.actor', %s, true)"

SYSTEM_BILLING = "system:billing"


def _act_as(conn: Connection, actor: str | None) -> None:
    """Name a different actor for the rest of ``conn``'s transaction (prefer the transaction's ``actor=``)."""
    if actor is not None:
        conn.execute(_SET_ACTOR, (actor,))


def record(
    conn: Connection,
    *,
    customer_id: uuid.UUID | None,
    action: str,
    target_type: str,
    target_id: Any = None,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one event (``action`` like ``api_key.created``) to ``customer_id``'s chain.

    The actor is the transaction's (``db.tenant_transaction(..., actor=...)``); ``actor`` here, one
    more statement, re-names it for the rest of the transaction.
    """
    _act_as(conn, actor)
    conn.execute(
        _INSERT,
        {
            "customer_id": customer_id,
            "action": action,
            "target_type": target_type,
            "target_id": None if target_id is None else str(target_id),
            "detail": Jsonb(detail or {}),
            "request_id": context.current_request_id(),
        },
    )


_INSERT_MANY = """
INSERT INTO audit_events (customer_id, action, target_type, target_id, detail, request_id)
SELECT e.customer_id, e.action, e.target_type, e.target_id, e.detail, %(request_id)s
  FROM unnest(%(customer_ids)b::uuid[], %(actions)b::text[], %(target_types)b::text[], %(target_ids)b::text[],
              %(details)b::jsonb[]) WITH ORDINALITY AS e(customer_id, action, target_type, target_id, detail, ord)
 ORDER BY e.ord
"""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    customer_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: Any = None
    detail: dict[str, Any] | None = None


def record_many(conn: Connection, entries: Sequence[AuditEntry], *, actor: str | None = None) -> None:
    """Append many events in one statement (a billing run audits thousands of invoices), in order.

    The arrays go in binary: in text, psycopg escapes every element in Python (slower than the insert).
    """
    if not entries:
        return
    _act_as(conn, actor)
    conn.execute(
        _INSERT_MANY,
        {
            "request_id": context.current_request_id(),
            "customer_ids": [e.customer_id for e in entries],
            "actions": [e.action for e in entries],
            "target_types": [e.target_type for e in entries],
            "target_ids": [None if e.target_id is None else str(e.target_id) for e in entries],
            "details": [Jsonb(e.detail or {}) for e in entries],
        },
    )
