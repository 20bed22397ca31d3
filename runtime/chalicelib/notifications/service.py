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

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence

from chalicelib.audit import recorder
from chalicelib.core import db
from chalicelib.core.db import Connection
from chalicelib.core.errors import Unprocessable
from chalicelib.core.observability import dependency_degraded, logger
from chalicelib.core.pagination import keyset_page
from chalicelib.core.text import is_email_address, is_identifier, is_storable
from chalicelib.notifications import mailer, repository
from chalicelib.notifications.models import (
    DeliveryReport,
    EmailMessage,
    NotificationPageResponse,
    NotificationResponse,
    NotificationsQuery,
)

MAX_ATTEMPTS = 5
# How long a claimed e-mail is left to its deliverer: far above one SES call (seconds at worst).
SENDING_LEASE_S = 300
# Attempts (each itself retried once on a fresh connection) to record an e-mail SES accepted.
RECORD_ATTEMPTS = 4
DEFAULT_BATCH_SIZE = 500


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
    _check(message)
    created = repository.queue_many(conn, [message])
    if created:
        return created[0]
    existing = repository.id_for_key(conn, customer_id, idempotency_key)
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


def deliver_pending(
    *,
    customer_id: uuid.UUID | None = None,
    notification_ids: Sequence[uuid.UUID] | None = None,
    include_failed: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    time_budget_s: float | None = None,
) -> DeliveryReport:
    """Send queued (and, with ``include_failed``, previously failed) e-mails; each is sent at most once.

    Pages through everything pending, ``batch_size`` rows at a time, until
    nothing is left or ``time_budget_s`` has passed (the rest waits for the
    next run). A row is attempted at most once per call.

    Parameters
    ----------
    customer_id
        Run in that tenant's transactions (only its rows are visible); without
        it, as the operator (the scheduled jobs).
    notification_ids
        Only these rows (deliver right after queuing them).
    include_failed
        Retry failed rows too (the daily job); the frequent job sends only new ones.
    """
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    statuses = ("queued", "failed") if include_failed else ("queued",)
    sent = failed = skipped = deferred = 0
    with _transaction(customer_id) as conn:
        since = repository.database_now(conn)
    while deadline is None or time.monotonic() < deadline:
        with _transaction(customer_id) as conn:
            ids = repository.pending_ids(
                conn, statuses=statuses, max_attempts=MAX_ATTEMPTS, limit=batch_size, since=since, ids=notification_ids
            )
        outage = False
        for notification_id in ids:
            outcome = _deliver_one(customer_id, notification_id)
            sent += outcome == "sent"
            failed += outcome == "failed"
            skipped += outcome == "skipped"
            if outcome == "deferred":
                # SES is down: the rest stays queued for the next run instead of each row
                # waiting through the same outage.
                deferred += 1
                outage = True
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
        if outage or len(ids) < batch_size:
            break
    if sent or failed or deferred:
        logger.info(
            "notifications delivered", extra={"sent": sent, "failed": failed, "skipped": skipped, "deferred": deferred}
        )
    return DeliveryReport(sent=sent, failed=failed, skipped=skipped, deferred=deferred)


def _deliver_one(customer_id: uuid.UUID | None, notification_id: uuid.UUID) -> str:
    """Claim (a committed lease), send with no transaction open, then record the outcome."""
    with _transaction(customer_id) as conn:
        email = repository.claim(conn, notification_id, lease_s=SENDING_LEASE_S)
    if email is None:  # sent meanwhile, or being sent by a concurrent deliverer
        return "skipped"
    try:
        message_id = mailer.send(email)
    except mailer.DeliveryFailed as exc:
        return _not_sent(customer_id, email.id, email.customer_id, exc)

    def sent() -> None:
        with _transaction(customer_id) as conn:
            if not repository.mark_sent(conn, email.id, message_id):
                return  # an earlier attempt's COMMIT had landed: recorded and audited once
            recorder.record(
                conn,
                customer_id=email.customer_id,
                action=_sent_action(email.related_type),
                target_type=email.related_type or "notification",
                target_id=email.related_id or email.id,
                detail={"notification_id": str(email.id), "recipient": email.recipient},
            )

    # SES has accepted it: the record must not be lost to a dead connection, or the lease would
    # end and the e-mail go out again. Recording is idempotent, so it is tried on fresh
    # connections for a few seconds (a failover), even after a COMMIT whose outcome is unknown.
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        try:
            db.retry_once_if_lost(sent, what="notification sent")
            break
        except db.LOST:
            if attempt == RECORD_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
    return "sent"


def _not_sent(
    customer_id: uuid.UUID | None, notification_id: uuid.UUID, owner: uuid.UUID, failure: mailer.DeliveryFailed
) -> str:
    """Record why SES did not take it: ``deferred`` (SES could not serve: it stays queued) or ``failed``."""
    error = str(failure)
    if failure.transient:

        def defer() -> None:
            with _transaction(customer_id) as conn:
                repository.mark_deferred(conn, notification_id, error)

        db.retry_once_if_lost(defer, what="notification deferral")
        dependency_degraded("ses", "email_stays_queued", failure)
        return "deferred"

    def fail() -> None:
        with _transaction(customer_id) as conn:
            repository.mark_failed(conn, notification_id, error)
            recorder.record(
                conn,
                customer_id=owner,
                action="notification.failed",
                target_type="notification",
                target_id=notification_id,
                detail={"error": error[:200]},
            )

    db.retry_once_if_lost(fail, what="notification failure")
    logger.warning("notification failed", extra={"notification_id": str(notification_id), "error": error})
    return "failed"


def list_notifications(customer_id: uuid.UUID, query: NotificationsQuery) -> NotificationPageResponse:
    """The tenant's delivery records, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return NotificationPageResponse(
        items=[NotificationResponse.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def _sent_action(related_type: str | None) -> str:
    return f"{related_type}.emailed" if related_type else "notification.sent"


@contextlib.contextmanager
def _transaction(customer_id: uuid.UUID | None) -> Iterator[Connection]:
    if customer_id is None:
        with db.operator_transaction() as conn:
            yield conn
    else:
        with db.tenant_transaction(customer_id) as conn:
            yield conn


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
