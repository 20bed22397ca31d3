"""The billing run and its two schedules: plain functions, no state between calls.

A run of a period:

1. opens its *lock transaction*, which writes nothing and only holds locks
   until the run's outcome is committed: first the run's own lock (while it
   is held the run is alive); then records a ``billing_runs`` row (status
   ``running``) and audits its start (:mod:`chalicelib.billing.run_records`);
2. on the lock transaction, takes the period's ``run`` lock (a second,
   concurrent run of the same period waits here, then finds every invoice
   already there) and, when finalizing, its ``freeze`` lock (ingestion into
   the period waits, then is refused); then marks ``abandoned`` (and audits)
   the period's runs still ``running`` whose own lock is free: their process
   died before finishing;
3. runs ONE aggregation query (usage per customer and metric, with prices),
   streamed :data:`CHUNK_SIZE` customers at a time (the run's memory is one
   chunk's, whatever the number of customers), and reads each chunk's
   existing invoices of the period;
4. prices every customer with :mod:`chalicelib.billing.pricing` and decides
   per customer: create, recompute a draft whose content changed, keep an
   unchanged draft, or leave a finalized invoice alone. A customer whose
   invoice cannot be priced (an amount too large to store) is *set aside*:
   not invoiced, listed in the result, audited (``billing.customer_set_aside``)
   and counted in the ``BillingCustomersSetAside`` metric; it never stops the
   other customers' billing;
5. writes each chunk in one transaction of set-based statements (bounded
   locks and audit-chain work) on a thread of its own while it prices the
   next (:mod:`chalicelib.billing.chunks`); a run killed part-way leaves
   whole invoices (its e-mails and audit events with them) and the next run
   of the period completes it;
6. when finalizing, freezes the drafts, queues their e-mails (delivered by
   the daily job, never inside the run) and audits each invoice;
7. marks the run succeeded (or failed, with the error) and audits it, while
   the lock transaction still holds the run's lock; then lets go of the locks.

Invoice numbers count each customer's invoices of the period's year, gap-free:
``INV-2026-000007`` is that customer's seventh invoice for 2026 (migration 0033).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from chalicelib.audit import recorder
from chalicelib.billing import repository, run_records, run_repository
from chalicelib.billing.chunks import ChunkWriter, Counts, RunScope
from chalicelib.billing.models import (
    BillingRunResponse,
    CustomerUsage,
    DailyReport,
    ExistingInvoice,
    PlannedInvoice,
    SetAsideResponse,
)
from chalicelib.billing.pricing import AmountOutOfRange, PricedInvoice, price_invoice
from chalicelib.core import context, db
from chalicelib.core.db import Connection
from chalicelib.core.errors import Unprocessable
from chalicelib.core.money import cents
from chalicelib.core.observability import logger
from chalicelib.core.periods import Period, parse_period, utc_now
from chalicelib.core.settings import get_settings
from chalicelib.notifications import service as notifications
from chalicelib.payments import dunning as payments
from chalicelib.webhooks import events as webhooks

CHUNK_SIZE = 500
# The daily job's e-mail sending stops after this; what is left goes out with
# the 5-minute notifications job (and failed ones with the next daily run).
DELIVERY_BUDGET_S = 600


def run(
    period: Period | str, *, finalize: bool, now: datetime | None = None, actor: str | None = None
) -> BillingRunResponse:
    """Bill ``period`` for every customer; idempotent, safe to run concurrently.

    Raises
    ------
    Unprocessable
        The period is malformed or has not ended yet.
    """
    period = parse_period(period) if isinstance(period, str) else period
    if not period.has_ended(now or utc_now()):
        raise Unprocessable(f"Period {period} has not ended yet")
    actor = actor or context.current_actor()
    run_id = uuid.uuid4()
    # The lock transaction holds the run's own lock from before its row exists until its outcome is
    # committed (a 'running' row whose lock is free is a dead run's), and the period's locks over every
    # chunk. It writes nothing, so the outcome can be committed beside it, before it lets go.
    with db.operator_transaction() as locks:
        run_repository.lock_run(locks, run_id)
        run_records.started(run_id, period, finalize, actor)
        try:
            result = _bill(locks, period, finalize, run_id, actor)
        except Exception as exc:  # record the failure on the run, then let it propagate
            run_records.failed(run_id, period, exc, actor)
            raise
        run_records.finished(result, actor)
    if finalize:
        # Committed and unlocked: charge the period's invoices whose customer has a card, within a
        # budget (never raises; what it does not reach, the daily dunning job charges).
        payments.charge_finalized(period, now=now)
    return result


def bill_previous_month(now: datetime | None = None) -> BillingRunResponse:
    """The monthly job (1st, 02:00 UTC): bill last month as drafts."""
    now = now or utc_now()
    return run(Period.containing(now).previous(), finalize=False, now=now, actor=recorder.SYSTEM_BILLING)


def daily(now: datetime | None = None) -> DailyReport:
    """The daily job: finalize drafts older than the grace period, then deliver pending e-mails.

    Finalizing a period recomputes its drafts first (late usage counts), so
    every draft of that period is finalized together. A failure in one
    period does not stop the others or the e-mail delivery; it is raised
    at the end so the job (and its alarm) fails.
    """
    now = now or utc_now()
    cutoff = now - timedelta(days=get_settings().invoice_grace_days)
    with db.operator_transaction() as conn:
        periods = [Period.of(day) for day in repository.periods_with_due_drafts(conn, cutoff)]
    finalized: list[str] = []
    failures: list[str] = []
    for period in periods:
        try:
            run(period, finalize=True, now=now, actor=recorder.SYSTEM_BILLING)
            finalized.append(period.label)
        except Exception as exc:  # noqa: BLE001 - keep going: other periods and the e-mails still matter
            logger.exception("daily finalize failed", extra={"period": period.label})
            failures.append(f"{period}: {exc}")
    delivery = notifications.deliver_pending(include_failed=True, time_budget_s=DELIVERY_BUDGET_S)
    if failures:
        raise RuntimeError("daily billing job failed for " + "; ".join(failures))
    return DailyReport(tuple(finalized), delivery.sent, delivery.failed)


def _bill(locks: Connection, period: Period, finalize: bool, run_id: uuid.UUID, actor: str) -> BillingRunResponse:
    counts = Counts()
    run_repository.lock_period(locks, "run", period.first_day)
    if finalize:
        run_repository.lock_period(locks, "freeze", period.first_day)
    run_records.abandon_dead_runs(period, run_id, actor)
    set_aside: list[SetAsideResponse] = []
    billed, total = 0, Decimal("0.00")
    with ChunkWriter(RunScope(period, run_id, finalize, actor), counts) as writer:
        for customers in repository.usage_batches(locks, period.first_day, period.last_day, CHUNK_SIZE):
            existing = repository.existing_invoices(locks, period.first_day, [c.customer_id for c in customers])
            planned: list[PlannedInvoice] = []
            for customer in customers:
                try:
                    plan = _plan(customer, existing.get(customer.customer_id), period)
                except AmountOutOfRange as exc:  # one customer's absurd usage must not stop everyone's billing
                    set_aside.append(SetAsideResponse(customer_id=customer.customer_id, reason=str(exc)))
                    continue
                if plan is not None:
                    planned.append(plan)
                    total += plan.total
            billed += len(planned)
            writer.submit(planned)  # written while the next chunk is priced
    run_records.set_aside(set_aside, period, run_id, actor)
    # Once, briefly (webhooks.send_soon's budget): whatever is left goes with the webhooks job.
    webhooks.send_soon(counts.webhook_events)
    return BillingRunResponse(
        run_id=run_id,
        period=period.label,
        finalize=finalize,
        invoices_created=counts.created,
        invoices_existing=billed - counts.created,
        invoices_recomputed=counts.recomputed,
        invoices_finalized=counts.finalized,
        total_cents=cents(total),
        customers_set_aside=len(set_aside),
        set_aside=set_aside,
    )


def price_customer(
    customer: CustomerUsage, period: Period, usage: Mapping[str, Decimal] | None = None
) -> PricedInvoice | None:
    """What the run bills ``customer`` for ``period`` (pure); ``None`` when it starts after the period.

    The one pricing of a customer's period: the run's, and the upcoming invoice's (which also
    passes a projected ``usage`` instead of the customer's own, for its forecast).
    ``AmountOutOfRange`` when an amount is too large to store.
    """
    return price_invoice(
        customer.plan,
        customer.usage if usage is None else usage,
        tax_rate=customer.tax_rate,
        period=period,
        billing_start=customer.billing_start,
    )


def _plan(customer: CustomerUsage, existing: ExistingInvoice | None, period: Period) -> PlannedInvoice | None:
    """Decide what the run does for one customer (pure); ``AmountOutOfRange`` when it cannot be priced."""
    priced = price_customer(customer, period)
    if priced is None:
        return None
    if existing is None:
        return PlannedInvoice(customer, priced, "create", uuid.uuid4(), None)
    if existing.status != "draft":
        return PlannedInvoice(customer, priced, "frozen", existing.id, existing.number, existing.total)
    if existing.same_content(customer.plan.tier_code, customer.tax_rate, priced):
        return PlannedInvoice(customer, priced, "keep", existing.id, existing.number, existing.total)
    return PlannedInvoice(customer, priced, "recompute", existing.id, existing.number, existing.total)
