"""The billing run's writes: one transaction per chunk of customers, written on a thread of its own.

:func:`write_chunk` writes one chunk's planned invoices in one operator
transaction of set-based statements: invoice numbers, invoices, lines,
(when finalizing) the freeze and the e-mails, audit events and webhook
events. A run killed part-way therefore leaves whole invoices.

:class:`ChunkWriter` runs :func:`write_chunk` on one worker thread while the
run plans the next chunk: pricing is Python (one core) and the writes are
PostgreSQL's (another), so the two overlap instead of adding up. Chunks are
still written one after the other, in order, and at most one is in flight:
a failed chunk is raised at the next :meth:`ChunkWriter.submit` (or at the
end) and no later chunk is written after it. The worker thread runs in a
copy of the submitting context (request id, actor).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from chalicelib.audit import recorder
from chalicelib.audit.recorder import AuditEntry
from chalicelib.billing import invoice_email, repository
from chalicelib.billing.models import PlannedInvoice
from chalicelib.core import db
from chalicelib.core.db import Connection
from chalicelib.core.money import cents
from chalicelib.core.periods import Period
from chalicelib.notifications import service as notifications
from chalicelib.webhooks import events as webhooks

PAYMENT_TERMS_DAYS = 30
# The webhook events a run tries at once when it ends (send_soon, within its budget); the webhooks
# job sends the rest. A bound, so that the run's memory does not grow with the number of customers.
SEND_SOON_MAX = 1000


@dataclass(slots=True)
class Counts:
    created: int = 0
    recomputed: int = 0
    finalized: int = 0
    # Some of the webhook events the run's chunks stored: tried once right after the last chunk (send_soon).
    webhook_events: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunScope:
    """What every chunk of one run shares."""

    period: Period
    run_id: uuid.UUID
    finalize: bool
    actor: str


class ChunkWriter:
    """Writes a run's chunks in order on one worker thread, one chunk in flight (see the module docstring)."""

    def __init__(self, scope: RunScope, counts: Counts) -> None:
        self._scope = scope
        self._counts = counts
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-chunks")
        self._in_flight: Future[None] | None = None

    def submit(self, chunk: Sequence[PlannedInvoice]) -> None:
        """Wait for the chunk in flight (raising its error), then start writing ``chunk``."""
        self._wait()
        if chunk:
            context = contextvars.copy_context()
            self._in_flight = self._executor.submit(context.run, self._write, list(chunk))

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                self._wait()
            elif self._in_flight is not None:
                self._in_flight.exception()  # let it finish; the caller's own error is the one raised
        finally:
            self._executor.shutdown(wait=True)

    def _wait(self) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def _write(self, chunk: list[PlannedInvoice]) -> None:
        with db.operator_transaction(actor=self._scope.actor) as conn:
            write_chunk(conn, chunk, self._scope, self._counts)


def write_chunk(conn: Connection, chunk: Sequence[PlannedInvoice], scope: RunScope, counts: Counts) -> None:
    period = scope.period
    creates = [p for p in chunk if p.action == "create"]
    recomputes = [p for p in chunk if p.action == "recompute"]
    numbers = repository.allocate_numbers(conn, period.year, [p.customer.customer_id for p in creates])
    for plan, number in zip(creates, numbers, strict=True):
        plan.number = number
    repository.insert_invoices(conn, creates, period_start=period.first_day, run_id=scope.run_id)
    repository.update_drafts(conn, recomputes, run_id=scope.run_id)
    repository.replace_lines(conn, [*creates, *recomputes], clear=[p.invoice_id for p in recomputes])
    # Webhook events only for the customers with an endpoint subscribed (usually few): building and
    # sending the others' would cost more than the rest of the chunk's Python work.
    types = [webhooks.INVOICE_CREATED, webhooks.INVOICE_FINALIZED] if scope.finalize else [webhooks.INVOICE_CREATED]
    subscribed = webhooks.subscribed(conn, [p.customer.customer_id for p in chunk if p.action != "frozen"], types)
    audit = [_invoice_entry(p, "invoice.created", period) for p in creates]
    announced = [
        _invoice_event(p, webhooks.INVOICE_CREATED, period)
        for p in creates
        if (p.customer.customer_id, webhooks.INVOICE_CREATED) in subscribed
    ]
    audit += [_invoice_entry(p, "invoice.recomputed", period) for p in recomputes]
    counts.created += len(creates)
    counts.recomputed += len(recomputes)
    if scope.finalize:
        drafts = {p.invoice_id: p for p in chunk if p.action != "frozen"}
        frozen = repository.finalize(conn, list(drafts), terms_days=PAYMENT_TERMS_DAYS)
        emails = []
        for invoice in frozen:
            plan = drafts[invoice.id]
            audit.append(_invoice_entry(plan, "invoice.finalized", period, due_at=invoice.due_at))
            emails.append(invoice_email.invoice_message(plan, period, invoice.due_at))
            if (plan.customer.customer_id, webhooks.INVOICE_FINALIZED) in subscribed:
                announced.append(_invoice_event(plan, webhooks.INVOICE_FINALIZED, period, due_at=invoice.due_at))
        notifications.queue_emails(conn, emails, strict=False)
        counts.finalized += len(frozen)
    recorder.record_many(conn, audit)
    stored = webhooks.emit_many(conn, announced)
    counts.webhook_events += stored[: max(0, SEND_SOON_MAX - len(counts.webhook_events))]


def _invoice_event(
    plan: PlannedInvoice, event_type: str, period: Period, due_at: datetime | None = None
) -> webhooks.Event:
    """An invoice's webhook event: its number, period, status and amounts in cents (``due_at`` once finalized)."""
    data = {
        "id": plan.invoice_id,
        "number": plan.number,
        "period": period.label,
        "status": "finalized" if event_type == webhooks.INVOICE_FINALIZED else "draft",
        "subtotal_cents": cents(plan.priced.subtotal),
        "discount_cents": cents(plan.priced.discount),
        "tax_cents": cents(plan.priced.tax),
        "total_cents": cents(plan.priced.total),
        "due_at": due_at,
    }
    return (plan.customer.customer_id, event_type, data)


def _invoice_entry(plan: PlannedInvoice, action: str, period: Period, due_at: datetime | None = None) -> AuditEntry:
    detail = {"number": plan.number, "period": period.label, "total_cents": cents(plan.priced.total)}
    if action == "invoice.recomputed" and plan.previous_total is not None:
        detail["previous_total_cents"] = cents(plan.previous_total)
    if due_at is not None:
        detail["due_at"] = due_at.isoformat()
    return AuditEntry(
        customer_id=plan.customer.customer_id,
        action=action,
        target_type="invoice",
        target_id=plan.invoice_id,
        detail=detail,
    )
