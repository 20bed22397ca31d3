"""The billing run and its schedules.

A run of a period:

1. opens a *guard* transaction that takes the run's own lock (held until the
   run's outcome is committed: while it is held the run is alive), then
   records a ``billing_runs`` row (status ``running``) and audits its start;
2. in the guard, takes the period's ``run`` lock (a second, concurrent run of
   the same period waits here, then finds every invoice already there) and,
   when finalizing, its ``freeze`` lock (ingestion into the period waits, then
   is refused); then marks ``abandoned`` (and audits) the period's runs still
   ``running`` whose own lock is free: their process died before finishing;
3. runs ONE aggregation query (usage per customer and metric, with prices)
   and reads the period's existing invoices;
4. prices every customer with :mod:`chalicelib.billing.pricing` and decides
   per customer: create, recompute a draft whose content changed, keep an
   unchanged draft, or leave a finalized invoice alone. A customer whose
   invoice cannot be priced (an amount too large to store) is *set aside*:
   not invoiced, listed in the result, audited (``billing.customer_set_aside``)
   and counted in the ``BillingCustomersSetAside`` metric; it never stops the
   other customers' billing;
5. writes in chunks of :data:`CHUNK_SIZE` customers, each chunk one
   transaction of set-based statements (bounded locks and audit-chain work);
   a run killed part-way leaves whole invoices (its e-mails and audit events
   with them) and the next run of the period completes it;
6. when finalizing, freezes the drafts, queues their e-mails (delivered by
   the daily job, never inside the run) and audits each invoice;
7. marks the run succeeded (or failed, with the error) and audits it, while
   the guard still holds the run's lock; then the guard lets go.

Invoice numbers count each customer's invoices of the period's year, gap-free:
``INV-2026-000007`` is that customer's seventh invoice for 2026 (migration 0033).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib.audit import recorder
from chalicelib.audit.recorder import AuditEntry
from chalicelib.billing import invoice_email, repository
from chalicelib.billing.models import (
    AbandonedRun,
    BillingRunResult,
    CustomerUsage,
    DailyReport,
    ExistingInvoice,
    PlannedInvoice,
    SetAside,
)
from chalicelib.billing.pricing import AmountOutOfRange, price_invoice
from chalicelib.core import context, db
from chalicelib.core.errors import Unprocessable
from chalicelib.core.money import cents
from chalicelib.core.observability import SERVICE, logger, metrics
from chalicelib.core.periods import Period, parse_period, utc_now
from chalicelib.core.settings import get_settings
from chalicelib.notifications import service as notifications
from chalicelib.notifications.models import EmailMessage

CHUNK_SIZE = 500
PAYMENT_TERMS_DAYS = 30
# The daily job's e-mail sending stops after this; what is left goes out with
# the 5-minute notifications job (and failed ones with the next daily run).
DELIVERY_BUDGET_S = 600


@dataclass(slots=True)
class _Counts:
    created: int = 0
    recomputed: int = 0
    finalized: int = 0


class BillingService:
    """Runs billing for a period (``run``) and the two scheduled jobs (``bill_previous_month``, ``daily``)."""

    def run(
        self, period: Period | str, *, finalize: bool, now: datetime | None = None, actor: str | None = None
    ) -> BillingRunResult:
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
        # The guard holds the run's own lock from before its row exists until its outcome is committed
        # (a 'running' row whose lock is free is a dead run's), and the period's locks over every chunk.
        # It writes nothing, so the outcome can be committed beside it, before it lets go.
        with db.operator_transaction() as guard:
            repository.lock_run(guard, run_id)
            self._start(run_id, period, finalize, actor)
            try:
                result = self._bill(guard, period, finalize, run_id, actor)
            except Exception as exc:  # record the failure on the run, then let it propagate
                self._fail(run_id, period, exc, actor)
                raise
            self._finish(result, actor)
        return result

    def bill_previous_month(self, now: datetime | None = None) -> BillingRunResult:
        """The monthly job (1st, 02:00 UTC): bill last month as drafts."""
        now = now or utc_now()
        return self.run(Period.containing(now).previous(), finalize=False, now=now, actor=recorder.SYSTEM_BILLING)

    def daily(self, now: datetime | None = None) -> DailyReport:
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
                self.run(period, finalize=True, now=now, actor=recorder.SYSTEM_BILLING)
                finalized.append(period.label)
            except Exception as exc:  # keep going: other periods and the e-mails still matter
                logger.exception("daily finalize failed", extra={"period": period.label})
                failures.append(f"{period}: {exc}")
        delivery = notifications.deliver_pending(include_failed=True, time_budget_s=DELIVERY_BUDGET_S)
        if failures:
            raise RuntimeError("daily billing job failed for " + "; ".join(failures))
        return DailyReport(tuple(finalized), delivery.sent, delivery.failed)

    # ------------------------------------------------------------------ the run

    def _bill(
        self, guard: psycopg.Connection, period: Period, finalize: bool, run_id: uuid.UUID, actor: str
    ) -> BillingRunResult:
        counts = _Counts()
        repository.lock_period(guard, "run", period.first_day)
        if finalize:
            repository.lock_period(guard, "freeze", period.first_day)
        self._abandon_dead_runs(period, run_id, actor)
        customers = repository.usage_by_customer(guard, period.first_day, period.last_day)
        existing = repository.existing_invoices(guard, period.first_day)
        planned: list[PlannedInvoice] = []
        set_aside: list[SetAside] = []
        for customer in customers:
            try:
                plan = _plan(customer, existing.get(customer.customer_id), period)
            except AmountOutOfRange as exc:  # one customer's absurd usage must not stop everyone's billing
                set_aside.append(SetAside(customer.customer_id, str(exc)))
                continue
            if plan is not None:
                planned.append(plan)
        for start in range(0, len(planned), CHUNK_SIZE):
            chunk = planned[start : start + CHUNK_SIZE]
            with db.operator_transaction(actor=actor) as conn:
                self._write_chunk(conn, chunk, period, run_id, finalize, counts)
        if set_aside:
            with db.operator_transaction(actor=actor) as conn:
                recorder.record_many(conn, [_set_aside_entry(s, period, run_id) for s in set_aside])
        _report_set_aside(set_aside, period, run_id)
        return BillingRunResult(
            run_id=run_id,
            period=period.label,
            finalize=finalize,
            invoices_created=counts.created,
            invoices_existing=len(planned) - counts.created,
            invoices_recomputed=counts.recomputed,
            invoices_finalized=counts.finalized,
            total=sum((p.total for p in planned), Decimal("0.00")),
            set_aside=tuple(set_aside),
        )

    def _write_chunk(
        self,
        conn: psycopg.Connection,
        chunk: Sequence[PlannedInvoice],
        period: Period,
        run_id: uuid.UUID,
        finalize: bool,
        counts: _Counts,
    ) -> None:
        creates = [p for p in chunk if p.action == "create"]
        recomputes = [p for p in chunk if p.action == "recompute"]
        numbers = repository.allocate_numbers(conn, period.year, [p.customer.customer_id for p in creates])
        for plan, number in zip(creates, numbers):
            plan.number = number
        repository.insert_invoices(conn, creates, period_start=period.first_day, run_id=run_id)
        repository.update_drafts(conn, recomputes, run_id=run_id)
        repository.replace_lines(conn, [*creates, *recomputes], clear=[p.invoice_id for p in recomputes])
        audit = [_invoice_entry(p, "invoice.created", period) for p in creates]
        audit += [_invoice_entry(p, "invoice.recomputed", period) for p in recomputes]
        counts.created += len(creates)
        counts.recomputed += len(recomputes)
        if finalize:
            drafts = {p.invoice_id: p for p in chunk if p.action != "frozen"}
            frozen = repository.finalize(conn, list(drafts), terms_days=PAYMENT_TERMS_DAYS)
            emails = []
            for invoice in frozen:
                plan = drafts[invoice.id]
                audit.append(_invoice_entry(plan, "invoice.finalized", period, due_at=invoice.due_at))
                emails.append(_invoice_email(plan, period, invoice.due_at))
            notifications.queue_emails(conn, emails, strict=False)
            counts.finalized += len(frozen)
        recorder.record_many(conn, audit)

    # ------------------------------------------------------------------ run bookkeeping

    def _start(self, run_id: uuid.UUID, period: Period, finalize: bool, actor: str) -> None:
        with db.operator_transaction(actor=actor) as conn:
            repository.insert_run(conn, run_id, period_start=period.first_day, finalize=finalize, started_by=actor)
            recorder.record(
                conn,
                customer_id=None,
                action="billing_run.started",
                target_type="billing_run",
                target_id=run_id,
                detail={"period": period.label, "finalize": finalize},
            )
        logger.info("billing run started", extra={"run_id": str(run_id), "period": period.label, "finalize": finalize})

    def _abandon_dead_runs(self, period: Period, run_id: uuid.UUID, actor: str) -> None:
        """Record as ``abandoned`` the period's runs that died without an outcome (say, killed between chunks).

        Their chunks are whole (each was one transaction), and this run, which
        now holds the period, writes what they had not.
        """
        with db.operator_transaction(actor=actor) as conn:
            abandoned = repository.abandon_dead_runs(conn, period.first_day, found_by=run_id)
            recorder.record_many(conn, [_abandoned_entry(run, period, run_id) for run in abandoned])
        for run in abandoned:
            logger.warning(
                "billing run abandoned: it ended without recording an outcome",
                extra={"run_id": str(run.id), "period": period.label, "found_by": str(run_id)},
            )

    def _finish(self, result: BillingRunResult, actor: str) -> None:
        with db.operator_transaction(actor=actor) as conn:
            repository.finish_run(
                conn,
                result.run_id,
                created=result.invoices_created,
                existing=result.invoices_existing,
                total=result.total,
            )
            recorder.record(
                conn,
                customer_id=None,
                action="billing_run.finished",
                target_type="billing_run",
                target_id=result.run_id,
                detail=result.as_json(),
            )
        logger.info("billing run finished", extra=result.as_json())

    def _fail(self, run_id: uuid.UUID, period: Period, error: Exception, actor: str) -> None:
        message = f"{type(error).__name__}: {error}"
        with db.operator_transaction(actor=actor) as conn:
            repository.fail_run(conn, run_id, message)
            recorder.record(
                conn,
                customer_id=None,
                action="billing_run.failed",
                target_type="billing_run",
                target_id=run_id,
                detail={"period": period.label, "error": message[:500]},
            )
        logger.error("billing run failed", extra={"run_id": str(run_id), "period": period.label, "error": message})


def _plan(customer: CustomerUsage, existing: ExistingInvoice | None, period: Period) -> PlannedInvoice | None:
    """Decide what the run does for one customer (pure); ``AmountOutOfRange`` when it cannot be priced."""
    priced = price_invoice(
        customer.plan, customer.usage, tax_rate=customer.tax_rate, period=period, billing_start=customer.billing_start
    )
    if priced is None:
        return None
    if existing is None:
        return PlannedInvoice(customer, priced, "create", uuid.uuid4(), None)
    if existing.status != "draft":
        return PlannedInvoice(customer, priced, "frozen", existing.id, existing.number, existing.total)
    if existing.same_content(customer.plan.tier_code, customer.tax_rate, priced):
        return PlannedInvoice(customer, priced, "keep", existing.id, existing.number, existing.total)
    return PlannedInvoice(customer, priced, "recompute", existing.id, existing.number, existing.total)


def _abandoned_entry(run: AbandonedRun, period: Period, found_by: uuid.UUID) -> AuditEntry:
    return AuditEntry(
        customer_id=None,
        action="billing_run.abandoned",
        target_type="billing_run",
        target_id=run.id,
        detail={
            "period": period.label,
            "finalize": run.finalize,
            "started_by": run.started_by,
            "started_at": run.started_at.isoformat(),
            "found_by": str(found_by),
        },
    )


def _set_aside_entry(item: SetAside, period: Period, run_id: uuid.UUID) -> AuditEntry:
    # The platform chain: what to do about it is the operators' business.
    return AuditEntry(
        customer_id=None,
        action="billing.customer_set_aside",
        target_type="customer",
        target_id=item.customer_id,
        detail={"period": period.label, "run_id": str(run_id), "reason": item.reason[:500]},
    )


def _report_set_aside(set_aside: Sequence[SetAside], period: Period, run_id: uuid.UUID) -> None:
    """Log each set-aside customer and emit the alarm metric (also 0, so the alarm has data every run)."""
    for item in set_aside:
        logger.error(
            "billing run set a customer aside",
            extra={
                "run_id": str(run_id),
                "period": period.label,
                "customer_id": str(item.customer_id),
                "reason": item.reason,
            },
        )
    if is_metrics_disabled():
        return
    # single_metric flushes its own isolated buffer: no interleaving with request metrics.
    with single_metric(
        name="BillingCustomersSetAside",
        unit=MetricUnit.Count,
        value=len(set_aside),
        namespace=metrics.namespace,
        default_dimensions={"service": SERVICE},
    ):
        pass


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


def _invoice_email(plan: PlannedInvoice, period: Period, due_at: datetime) -> EmailMessage:
    priced = plan.priced
    rendered = invoice_email.render_invoice_email(
        customer_name=plan.customer.name,
        number=plan.number or "",
        period=period,
        lines=priced.lines,
        subtotal=priced.subtotal,
        discount=priced.discount,
        tax=priced.tax,
        total=priced.total,
        tax_rate=plan.customer.tax_rate,
        due_at=due_at,
    )
    return EmailMessage(
        customer_id=plan.customer.customer_id,
        template=invoice_email.TEMPLATE_NAME,
        recipient=plan.customer.email,
        subject=rendered.subject,
        text_body=rendered.text_body,
        html_body=rendered.html_body,
        idempotency_key=f"invoice:{plan.invoice_id}",
        related_type="invoice",
        related_id=plan.invoice_id,
    )


billing_service = BillingService()
