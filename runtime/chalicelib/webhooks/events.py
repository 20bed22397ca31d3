"""How other areas announce what happened to a tenant's webhook endpoints: ``emit`` in their transaction,
``send_soon`` after it commits.

::

    from chalicelib.webhooks import events as webhooks

    with db.tenant_transaction(customer_id) as conn:
        key = ...  # the change itself
        event_id = webhooks.emit(conn, customer_id=customer_id, event_type="api_key.created", data={...})
    webhooks.send_soon([event_id], customer_id=customer_id)  # optional: the job sends it within a minute anyway

:func:`emit` records the event and one delivery per live endpoint of that
customer subscribed to the type, on the caller's connection (tenant or
operator transaction): the event exists exactly when its cause committed,
and a rolled-back change announces nothing. An event nobody subscribes to
is not stored at all; finding that out is one index probe, so emitting
costs one cheap statement when the tenant has no endpoint. :func:`emit_many`
is the same for any number of events in one statement (the billing run).

:func:`send_soon` tries the new deliveries once, right away, in this process,
for at most its time budget; whatever fails or is left is sent by the
scheduled job (``delivery``). It never raises.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.db import Connection
from chalicelib.core.money import plain
from chalicelib.core.observability import logger
from chalicelib.webhooks import delivery, repository
from chalicelib.webhooks.models import utc_z

INVOICE_CREATED = "invoice.created"
INVOICE_FINALIZED = "invoice.finalized"
INVOICE_PAID = "invoice.paid"
INVOICE_PAYMENT_FAILED = "invoice.payment_failed"
USAGE_THRESHOLD_REACHED = "usage.threshold_reached"
API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
# The contract's event types: what an endpoint may subscribe to, and all that may be emitted.
EVENT_TYPES: tuple[str, ...] = (
    INVOICE_CREATED,
    INVOICE_FINALIZED,
    INVOICE_PAID,
    INVOICE_PAYMENT_FAILED,
    USAGE_THRESHOLD_REACHED,
    API_KEY_CREATED,
    API_KEY_REVOKED,
)

# One event: (customer id, event type, data).
Event = tuple[uuid.UUID, str, Mapping[str, Any]]


def emit(conn: Connection, *, customer_id: uuid.UUID, event_type: str, data: Mapping[str, Any]) -> uuid.UUID | None:
    """Record one event for ``customer_id``'s subscribed endpoints on ``conn``; its id, or ``None`` when no
    endpoint subscribes to it (then nothing is stored).

    ``data`` is the event's ``data`` object: JSON values, plus ``Decimal``
    (a plain decimal string), ``UUID``, ``datetime`` (UTC, ``Z``) and ``date``.
    Raises ``ValueError`` for a type that is not one of :data:`EVENT_TYPES`.
    """
    stored = emit_many(conn, [(customer_id, event_type, data)])
    return stored[0] if stored else None


def emit_many(conn: Connection, events: Sequence[Event]) -> list[uuid.UUID]:
    """Record many events in one statement (see :func:`emit`); the ids of those stored, in input order."""
    if not events:
        return []
    unknown = sorted({event_type for _, event_type, _ in events} - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"not webhook event types: {unknown}")
    rows = [(uuid.uuid4(), customer_id, event_type, to_json(data)) for customer_id, event_type, data in events]
    stored = set(repository.emit(conn, rows))
    return [row[0] for row in rows if row[0] in stored]


def subscribed(
    conn: Connection, customer_ids: Sequence[uuid.UUID], event_types: Sequence[str]
) -> set[tuple[uuid.UUID, str]]:
    """The ``(customer id, event type)`` pairs among these that some live endpoint subscribes to.

    For a caller about to emit thousands of events (the billing run): it builds
    only the events :func:`emit_many` would store, instead of every one.
    """
    return repository.subscribed(conn, customer_ids, event_types) if customer_ids else set()


def send_soon(
    event_ids: Iterable[uuid.UUID | None],
    *,
    customer_id: uuid.UUID | None = None,
    budget_s: float = delivery.SEND_SOON_BUDGET_S,
) -> None:
    """Try the deliveries of these just-committed events now, for at most about ``budget_s``; never raises.

    ``customer_id``: the tenant whose transactions to use (a request of that
    tenant); without it, operator transactions (jobs and operator routes).
    ``None`` ids (events nobody subscribed to) are ignored.
    """
    ids = [event_id for event_id in event_ids if event_id is not None]
    if not ids:
        return
    try:
        delivery.deliver_due(event_ids=ids, customer_id=customer_id, time_budget_s=budget_s)
    except Exception:  # noqa: BLE001 - best effort: the scheduled job sends whatever is left
        logger.exception("immediate webhook delivery failed; the job will send it", extra={"events": len(ids)})


def to_json(data: Mapping[str, Any]) -> str:
    """``data`` as compact JSON text (the types :func:`emit` accepts)."""
    return json.dumps(data, default=_jsonable, separators=(",", ":"), ensure_ascii=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return utc_z(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON for a webhook event: {type(value).__name__}")
