"""Delivering queued e-mails through SES: each sent at most once, an outage never loses one.

See ``notifications.service`` for the queue and the guarantees; this module
claims a row with a committed lease (migration 0037), sends it with no
transaction open and records the outcome on a fresh connection.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence

from chalicelib.audit import recorder
from chalicelib.core import db
from chalicelib.core.db import Connection
from chalicelib.core.observability import dependency_degraded, logger
from chalicelib.notifications import mailer, repository
from chalicelib.notifications.models import DeliveryReport

MAX_ATTEMPTS = 5
# How long a claimed e-mail is left to its deliverer: far above one SES call (seconds at worst).
SENDING_LEASE_S = 300
# Attempts (each itself retried once on a fresh connection) to record an e-mail SES accepted.
RECORD_ATTEMPTS = 4
DEFAULT_BATCH_SIZE = 500


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
