"""Usage-alert rules: create, list and delete a tenant's alerts; follow up a firing that ingestion claimed.

An alert fires when a month's usage of its metric reaches its threshold, once
for that month. The check runs inside ingestion's one statement per batch
(``ingest_usage_events``, migration 0042): no extra round trip, and an index
probe that finds nothing when the tenant has no alert, so ingestion does not
slow down. The claim (``last_fired_period`` moved to the month by a
conditional UPDATE) serializes concurrent batches, so exactly one batch
fires an alert for a month. Usage is counted in the month of its events'
timestamps; ``last_fired_period`` only moves forward, so a late event of a
month earlier than the last firing fires nothing.

That batch's transaction then, through :func:`record_firings`, queues one
e-mail (idempotency key ``usage_alert:<alert id>:<YYYY-MM>``), records one
``usage.threshold_reached`` webhook event and audits ``usage_alert.triggered``:
all of it commits with the claim, or none of it. After the commit,
:func:`after_commit` tries to deliver both at once; anything it cannot send
is left to the scheduled deliverers (best effort, never raises).

An alert is level-triggered: one created below the month's usage fires with
the tenant's next accepted usage of that metric in that month.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from chalicelib.alerts import emails, repository
from chalicelib.alerts.models import (
    MAX_THRESHOLD,
    AlertListQuery,
    CreateAlertBody,
    FiredAlert,
    UsageAlertPage,
    UsageAlertResponse,
)
from chalicelib.audit import recorder
from chalicelib.core import db, errors
from chalicelib.core.db import Connection
from chalicelib.core.money import plain
from chalicelib.core.observability import logger
from chalicelib.core.pagination import keyset_page
from chalicelib.notifications import service as notifications
from chalicelib.webhooks import events as webhooks

MAX_ALERTS_PER_TENANT = 20


def create(customer_id: uuid.UUID, body: CreateAlertBody) -> UsageAlertResponse:
    """A new alert (``Unprocessable``: unknown metric or a threshold out of range; ``Conflict``: the
    tenant's limit, or the same metric and threshold exists)."""
    threshold = Decimal(body.threshold)  # the body's pattern makes it a plain decimal
    if not 0 < threshold <= MAX_THRESHOLD:
        raise errors.Unprocessable("threshold must be greater than 0 and at most 10000000000")
    with db.tenant_transaction(customer_id) as conn:
        if not repository.metric_exists(conn, body.metric):
            raise errors.Unprocessable(f"unknown metric {body.metric!r}")
        repository.lock_tenant_alerts(conn, customer_id)
        if repository.count(conn) >= MAX_ALERTS_PER_TENANT:
            raise errors.Conflict(f"A tenant has at most {MAX_ALERTS_PER_TENANT} usage alerts; delete one first")
        row = repository.insert(conn, customer_id=customer_id, metric=body.metric, threshold=threshold)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="usage_alert.created",
            target_type="usage_alert",
            target_id=row["id"],
            detail={"metric": body.metric, "threshold": plain(threshold)},
        )
    return UsageAlertResponse.model_validate(row)


def list_alerts(customer_id: uuid.UUID, query: AlertListQuery) -> UsageAlertPage:
    """The tenant's alerts, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return UsageAlertPage(items=[UsageAlertResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def delete(customer_id: uuid.UUID, alert_id: uuid.UUID) -> None:
    """Delete the alert: it fires no more (a batch claiming it concurrently commits first or finds nothing)."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.delete(conn, alert_id)
        if row is None:
            raise errors.NotFound("Usage alert not found")
        recorder.record(
            conn,
            customer_id=customer_id,
            action="usage_alert.deleted",
            target_type="usage_alert",
            target_id=alert_id,
            detail={"metric": row["metric_code"], "threshold": plain(row["threshold"])},
        )


@dataclass(frozen=True, slots=True)
class Firings:
    """What a batch's firings queued, to deliver once their transaction has committed."""

    customer_id: uuid.UUID
    notification_ids: list[uuid.UUID] = field(default_factory=list)
    event_ids: list[uuid.UUID] = field(default_factory=list)


def record_firings(conn: Connection, customer_id: uuid.UUID, fired: Sequence[dict[str, str]]) -> Firings:
    """Follow up the firings ingestion just claimed, on its transaction: e-mail, webhook event, audit.

    ``fired`` is ``ingest_usage_events``' ``alerts_fired`` (empty for almost every batch).
    """
    firings = Firings(customer_id)
    if not fired:
        return firings
    contact = repository.contact(conn, customer_id)
    for item in fired:
        alert = FiredAlert.from_json(item)
        if contact is not None:
            notification_id = _queue_email(conn, customer_id, contact["name"], contact["email"], alert)
            if notification_id is not None:
                firings.notification_ids.append(notification_id)
        event_id = emit_threshold_event(conn, customer_id, alert)
        if event_id is not None:
            firings.event_ids.append(event_id)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="usage_alert.triggered",
            target_type="usage_alert",
            target_id=alert.alert_id,
            detail=alert.event_data(),
        )
    return firings


def _queue_email(
    conn: Connection, customer_id: uuid.UUID, name: str, email: str, alert: FiredAlert
) -> uuid.UUID | None:
    """Queue the firing's e-mail; a contact address that cannot be sent to is logged, never fails ingestion."""
    message = emails.threshold_message(customer_id=customer_id, customer_name=name, recipient=email, fired=alert)
    try:
        return notifications.queue_message(conn, message)
    except errors.Unprocessable as exc:  # refused before anything was written: the transaction goes on
        logger.warning(
            "usage alert e-mail not queued", extra={"idempotency_key": message.idempotency_key, "reason": exc.message}
        )
        return None


def emit_threshold_event(conn: Connection, customer_id: uuid.UUID, alert: FiredAlert) -> uuid.UUID | None:
    """Record the ``usage.threshold_reached`` webhook event on ``conn``; its id (``None``: no endpoint wants it)."""
    return webhooks.emit(
        conn, customer_id=customer_id, event_type=webhooks.USAGE_THRESHOLD_REACHED, data=alert.event_data()
    )


def after_commit(firings: Firings) -> None:
    """Deliver what the firings queued now, rather than at the next scheduled run; never raises."""
    webhooks.send_soon(firings.event_ids, customer_id=firings.customer_id)  # never raises either
    if firings.notification_ids:
        try:
            notifications.deliver_pending(customer_id=firings.customer_id, notification_ids=firings.notification_ids)
        except Exception as exc:  # noqa: BLE001 - the e-mail stays queued; the scheduled run sends it
            logger.warning(
                "usage alert e-mail not sent now; left to the scheduled run", extra={"error": type(exc).__name__}
            )
