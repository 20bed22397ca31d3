"""Storage of notifications. Every function runs on the caller's connection and transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset
from chalicelib.notifications.models import EmailMessage, OutgoingEmail

# Arrays in binary (%b): in text psycopg escapes each element in Python, slow for e-mail bodies.
QUEUE_MANY = """
INSERT INTO notifications (customer_id, channel, template, recipient, subject, text_body, html_body,
                           idempotency_key, related_type, related_id)
SELECT m.customer_id, 'email', m.template, m.recipient, m.subject, m.text_body, m.html_body,
       m.idempotency_key, m.related_type, m.related_id
  FROM unnest(%(customer_ids)b::uuid[], %(templates)b::text[], %(recipients)b::text[], %(subjects)b::text[],
              %(text_bodies)b::text[], %(html_bodies)b::text[], %(keys)b::text[], %(related_types)b::text[],
              %(related_ids)b::uuid[])
       AS m(customer_id, template, recipient, subject, text_body, html_body, idempotency_key, related_type,
            related_id)
ON CONFLICT (customer_id, idempotency_key) DO NOTHING
RETURNING id
"""

ID_FOR_KEY = """
SELECT id FROM notifications WHERE customer_id = %(customer_id)s AND idempotency_key = %(key)s
"""

# Rows attempted since ``since`` (this delivery run) are not picked again: a
# failing address gets one attempt per run, not MAX_ATTEMPTS in a row.
PENDING = """
SELECT id FROM notifications
 WHERE status = ANY(%(statuses)s::text[]) AND attempts < %(max_attempts)s
   AND (last_attempt_at IS NULL OR last_attempt_at < %(since)s)
   AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))
 ORDER BY created_at, id
 LIMIT %(limit)s
"""

DATABASE_NOW = "SELECT clock_timestamp() AS now"

# Claiming a row takes a lease committed before the send (migration 0037): a concurrent
# deliverer skips the row while the lease runs, and a row already sent is never claimed again.
CLAIM = """
UPDATE notifications
   SET sending_until = clock_timestamp() + make_interval(secs => %(lease_s)s)
 WHERE id = %(id)s AND status IN ('queued', 'failed')
   AND (sending_until IS NULL OR sending_until < clock_timestamp())
RETURNING id, customer_id, recipient, subject, text_body, html_body, related_type, related_id
"""

# E-mails that carry a single-use secret (an invitation or password-reset token) keep their
# bodies only until they are sent: afterwards the token exists only in the recipient's
# mailbox (the token tables hold its hash), not in clear in this table.
SECRET_BEARING_TEMPLATES = ("user_invitation", "password_reset")
MARK_SENT = """
UPDATE notifications
   SET status = 'sent', sent_at = now(), last_attempt_at = now(), attempts = attempts + 1,
       provider_message_id = %(message_id)s, error = NULL, sending_until = NULL,
       text_body = CASE WHEN template = ANY(%(secret_templates)s)
                        THEN '[removed after sending: it carried a single-use token]' ELSE text_body END,
       html_body = CASE WHEN template = ANY(%(secret_templates)s) THEN NULL ELSE html_body END
 WHERE id = %(id)s AND status <> 'sent'
"""

MARK_FAILED = """
UPDATE notifications
   SET status = 'failed', last_attempt_at = now(), attempts = attempts + 1, error = %(error)s,
       sending_until = NULL
 WHERE id = %(id)s
"""

# SES could not serve: the row stays queued (an outage is not this e-mail's fault and uses
# none of its attempts); last_attempt_at keeps this run from picking it again.
MARK_DEFERRED = """
UPDATE notifications
   SET last_attempt_at = now(), error = %(error)s, sending_until = NULL
 WHERE id = %(id)s
"""

# Newest first: a keyset page (core.pagination) on notifications_customer_idx.
LIST_PAGE = """
SELECT id, customer_id, channel, template, recipient, status, subject, related_type, related_id, attempts,
       error, created_at, sent_at
  FROM notifications
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""


def queue_many(conn: Connection, messages: Sequence[EmailMessage]) -> list[uuid.UUID]:
    """Insert the messages whose key is new; returns the ids of the rows created."""
    if not messages:
        return []
    rows = conn.execute(
        QUEUE_MANY,
        {
            "customer_ids": [m.customer_id for m in messages],
            "templates": [m.template for m in messages],
            "recipients": [m.recipient for m in messages],
            "subjects": [m.subject for m in messages],
            "text_bodies": [m.text_body for m in messages],
            "html_bodies": [m.html_body for m in messages],
            "keys": [m.idempotency_key for m in messages],
            "related_types": [m.related_type for m in messages],
            "related_ids": [m.related_id for m in messages],
        },
    ).fetchall()
    return [row["id"] for row in rows]


def id_for_key(conn: Connection, customer_id: uuid.UUID, key: str) -> uuid.UUID | None:
    row = conn.execute(ID_FOR_KEY, {"customer_id": customer_id, "key": key}).fetchone()
    return None if row is None else row["id"]


def pending_ids(
    conn: Connection,
    *,
    statuses: Sequence[str],
    max_attempts: int,
    limit: int,
    since: datetime,
    ids: Sequence[uuid.UUID] | None = None,
) -> list[uuid.UUID]:
    rows = conn.execute(
        PENDING,
        {
            "statuses": list(statuses),
            "max_attempts": max_attempts,
            "limit": limit,
            "since": since,
            "ids": None if ids is None else list(ids),
        },
    ).fetchall()
    return [row["id"] for row in rows]


def database_now(conn: Connection) -> datetime:
    now: datetime = single_row(conn.execute(DATABASE_NOW))["now"]
    return now


def claim(conn: Connection, notification_id: uuid.UUID, *, lease_s: int) -> OutgoingEmail | None:
    row = conn.execute(CLAIM, {"id": notification_id, "lease_s": lease_s}).fetchone()
    return None if row is None else OutgoingEmail(**row)


def mark_sent(conn: Connection, notification_id: uuid.UUID, message_id: str | None) -> bool:
    """Record the send; ``False`` when it was already recorded (a retried record whose COMMIT had landed)."""
    params = {"id": notification_id, "message_id": message_id, "secret_templates": list(SECRET_BEARING_TEMPLATES)}
    return conn.execute(MARK_SENT, params).rowcount == 1


def mark_failed(conn: Connection, notification_id: uuid.UUID, error: str) -> None:
    conn.execute(MARK_FAILED, {"id": notification_id, "error": error})


def mark_deferred(conn: Connection, notification_id: uuid.UUID, error: str) -> None:
    conn.execute(MARK_DEFERRED, {"id": notification_id, "error": error})


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` of the tenant's notifications older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()
