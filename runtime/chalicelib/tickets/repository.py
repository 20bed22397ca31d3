"""Support tickets and their comments in PostgreSQL.

Every function takes the connection of a ``tenant_transaction``: row-level
security decides which tickets exist, so a WHERE on ``customer_id`` is never
what keeps tenants apart (it appears only in INSERTs, where the policy's
WITH CHECK verifies it).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

INSERT_TICKET = """
INSERT INTO support_tickets (customer_id, subject, body, priority, created_by)
VALUES (%(customer_id)s, %(subject)s, %(body)s, %(priority)s, %(created_by)s)
RETURNING id, customer_id, subject, body, priority, status, created_by, created_at, updated_at, closed_at
"""

# Newest first: a keyset page (core.pagination) on the (customer_id, created_at DESC, id DESC) index.
LIST_TICKETS = """
SELECT id, customer_id, subject, body, priority, status, created_by, created_at, updated_at, closed_at
  FROM support_tickets
 WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
   AND (%(after_created_at)s::timestamptz IS NULL
        OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid))
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""

GET_TICKET = """
SELECT id, customer_id, subject, body, priority, status, created_by, created_at, updated_at, closed_at
  FROM support_tickets
 WHERE id = %(id)s
"""

LOCK_TICKET = "SELECT id, customer_id, status FROM support_tickets WHERE id = %(id)s FOR UPDATE"

TOUCH_TICKET = "UPDATE support_tickets SET updated_at = now() WHERE id = %(id)s"

CLOSE_TICKET = """
UPDATE support_tickets
   SET status = 'closed', closed_at = now(), updated_at = now()
 WHERE id = %(id)s AND status = 'open'
RETURNING id, customer_id, subject, body, priority, status, created_by, created_at, updated_at, closed_at
"""

INSERT_COMMENT = """
INSERT INTO support_ticket_comments (ticket_id, customer_id, author, body)
VALUES (%(ticket_id)s, %(customer_id)s, %(author)s, %(body)s)
RETURNING id, ticket_id, author, body, created_at
"""

LIST_COMMENTS = """
SELECT id, ticket_id, author, body, created_at
  FROM support_ticket_comments
 WHERE ticket_id = %(ticket_id)s
 ORDER BY created_at, id
"""

CUSTOMER_EMAIL = "SELECT email FROM customers WHERE id = %(id)s"


def insert_ticket(
    conn: Connection, *, customer_id: uuid.UUID, subject: str, body: str, priority: str, created_by: str
) -> dict[str, Any]:
    params = {
        "customer_id": customer_id,
        "subject": subject,
        "body": body,
        "priority": priority,
        "created_by": created_by,
    }
    return single_row(conn.execute(INSERT_TICKET, params))  # INSERT ... RETURNING: one row, or it raised


def list_tickets(
    conn: Connection, *, limit: int, status: str | None = None, after: Keyset | None = None
) -> list[dict[str, Any]]:
    """Up to ``limit`` tickets older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_TICKETS, {"status": status, "after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def get_ticket(conn: Connection, ticket_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(GET_TICKET, {"id": ticket_id}).fetchone()


def lock_ticket(conn: Connection, ticket_id: uuid.UUID) -> dict[str, Any] | None:
    """The ticket's id, owner and status, row-locked until commit (``None``: no such ticket here)."""
    return conn.execute(LOCK_TICKET, {"id": ticket_id}).fetchone()


def touch_ticket(conn: Connection, ticket_id: uuid.UUID) -> None:
    conn.execute(TOUCH_TICKET, {"id": ticket_id})


def close_ticket(conn: Connection, ticket_id: uuid.UUID) -> dict[str, Any] | None:
    """Close an open ticket; ``None`` when it is not open (or not visible)."""
    return conn.execute(CLOSE_TICKET, {"id": ticket_id}).fetchone()


def insert_comment(
    conn: Connection, *, ticket_id: uuid.UUID, customer_id: uuid.UUID, author: str, body: str
) -> dict[str, Any]:
    params = {"ticket_id": ticket_id, "customer_id": customer_id, "author": author, "body": body}
    return single_row(conn.execute(INSERT_COMMENT, params))  # INSERT ... RETURNING: one row, or it raised


def list_comments(conn: Connection, ticket_id: uuid.UUID) -> list[dict[str, Any]]:
    return conn.execute(LIST_COMMENTS, {"ticket_id": ticket_id}).fetchall()


def customer_email(conn: Connection, customer_id: uuid.UUID) -> str | None:
    row = conn.execute(CUSTOMER_EMAIL, {"id": customer_id}).fetchone()
    return row["email"] if row else None
