"""E-mail notifications: queue in the caller's transaction, deliver later, exactly once.

How other areas send an e-mail (e.g. a ticket confirmation)::

    from chalicelib.notifications import service as notifications

    with db.tenant_transaction(customer_id) as conn:
        ticket = ...  # the change itself
        notification_id = notifications.queue_email(
            conn, customer_id=customer_id, template="ticket_created", recipient=email,
            subject="We received your ticket", text_body=text, html_body=html,
            idempotency_key=f"ticket_created:{ticket.id}", related_type="support_ticket",
            related_id=ticket.id)
    # after commit (optional: the daily job delivers whatever is still queued)
    notifications.deliver_pending(customer_id=customer_id, notification_ids=[notification_id])

Queuing inside the caller's transaction means an e-mail exists exactly when
its cause was committed. Delivery claims one row at a time with a lease
(:data:`SENDING_LEASE_S`) committed before the send, sends it through SES
with no transaction open, and records ``sent`` (with SES's message id) or
``failed`` (with the error) in a new transaction, retried once on a fresh
connection: a sent notification is never claimed again, two concurrent
deliverers never send the same row, and a database connection lost around
the send cannot make it go out twice (migration 0037). A failed send changes nothing else and is
retried by the next daily run, up to :data:`MAX_ATTEMPTS` attempts (a
frequent job sends new rows only: see ``routes.py``). When SES itself cannot
serve (an outage or throttling, not a refusal of this message) the row stays
``queued`` without using an attempt, the run stops sending, and the next run
(every 5 minutes) tries again: nothing is lost during an outage, and nothing
is sent twice because a row is only ever sent under its row lock.
The one residual window: the process itself dying after SES accepted a
message but before its ``sent`` row committed (milliseconds) leaves it
queued, and it is sent again once its lease has ended.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chalicelib.core import db
from chalicelib.core.db import Connection
from chalicelib.core.errors import Unprocessable
from chalicelib.core.observability import logger
from chalicelib.core.pagination import keyset_page
from chalicelib.core.text import is_email_address, is_identifier, is_storable
from chalicelib.notifications import repository

# Delivery lives in its own module; callers keep saying notifications.deliver_pending.
from chalicelib.notifications.delivery import MAX_ATTEMPTS as MAX_ATTEMPTS
from chalicelib.notifications.delivery import deliver_pending as deliver_pending
from chalicelib.notifications.models import (
    EmailMessage,
    NotificationPageResponse,
    NotificationResponse,
    NotificationsQuery,
)


def queue_email(
    conn: Connection,
    *,
    customer_id: uuid.UUID,
    template: str,
    recipient: str,
    subject: str,
    text_body: str,
    html_body: str | None = None,
    idempotency_key: str,
    related_type: str | None = None,
    related_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue one e-mail on ``conn`` (the caller's transaction, tenant or operator).

    Parameters
    ----------
    template
        What kind of e-mail this is (``invoice``, ``ticket_created``): lowercase identifier.
    idempotency_key
        Its purpose, unique per customer (``invoice:<id>``). Queuing a key again
        returns the existing notification and queues nothing.
    related_type, related_id
        The object it is about; a successful send is audited as ``<related_type>.emailed``.

    Returns
    -------
    uuid.UUID
        The notification's id (the existing one for a repeated key).

    Raises
    ------
    Unprocessable
        A field that cannot be sent or stored (bad recipient, header injection...).
    """
    message = EmailMessage(
        customer_id=customer_id,
        template=template,
        recipient=recipient,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        idempotency_key=idempotency_key,
        related_type=related_type,
        related_id=related_id,
    )
    return queue_message(conn, message)


def queue_message(conn: Connection, message: EmailMessage) -> uuid.UUID:
    """:func:`queue_email` for a message an area's e-mail module already built (``EmailMessage``)."""
    _check(message)
    created = repository.queue_many(conn, [message])
    if created:
        return created[0]
    existing = repository.id_for_key(conn, message.customer_id, message.idempotency_key)
    if existing is None:  # cannot happen: the insert conflicted with a row this tenant owns
        raise Unprocessable("notification could not be queued")
    return existing


def queue_emails(conn: Connection, messages: Sequence[EmailMessage], *, strict: bool = True) -> int:
    """Queue many e-mails in one statement (the billing run queues thousands); returns how many were new.

    With ``strict=False`` a message that cannot be sent (say, a malformed
    recipient address) is left out and logged instead of failing the batch.
    """
    valid = []
    for message in messages:
        try:
            _check(message)
        except Unprocessable as exc:
            if strict:
                raise
            logger.warning(
                "e-mail not queued", extra={"idempotency_key": message.idempotency_key, "reason": exc.message}
            )
            continue
        valid.append(message)
    return len(repository.queue_many(conn, valid))


def list_notifications(customer_id: uuid.UUID, query: NotificationsQuery) -> NotificationPageResponse:
    """The tenant's delivery records, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return NotificationPageResponse(
        items=[NotificationResponse.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def _check(message: EmailMessage) -> None:
    if not is_identifier(message.template):
        raise Unprocessable("template must be a lowercase identifier")
    if message.related_type is not None and not is_identifier(message.related_type):
        raise Unprocessable("related_type must be a lowercase identifier")
    if not is_email_address(message.recipient):
        raise Unprocessable("recipient is not an e-mail address")
    if not message.subject or len(message.subject) > 998 or "\r" in message.subject or "\n" in message.subject:
        raise Unprocessable("subject must be one line of at most 998 characters")
    if not 1 <= len(message.idempotency_key) <= 200:
        raise Unprocessable("idempotency_key must be 1-200 characters")
    for text in (message.subject, message.text_body, message.html_body or "", message.idempotency_key):
        if not is_storable(text):
            raise Unprocessable("e-mail text contains characters that cannot be stored")
