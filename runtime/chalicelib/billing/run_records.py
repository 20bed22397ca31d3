"""What a billing run records about itself: its ``billing_runs`` row, audit events, log lines and alarm metric.

Each record is a short transaction of its own, beside the run's lock
transaction (which writes nothing), so that a run's start, its outcome and
the dead runs it found are committed whatever happens to its chunks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chalicelib.audit import recorder
from chalicelib.audit.recorder import AuditEntry
from chalicelib.billing import run_repository
from chalicelib.billing.models import AbandonedRun, BillingRunResponse, SetAsideResponse
from chalicelib.core import db
from chalicelib.core.observability import emit_count, logger
from chalicelib.core.periods import Period

# The alarm's input (namespace SaaSPlatform, dimension service), emitted by every run, 0 included.
SET_ASIDE_METRIC = "BillingCustomersSetAside"


def started(run_id: uuid.UUID, period: Period, finalize: bool, actor: str) -> None:
    with db.operator_transaction(actor=actor) as conn:
        run_repository.insert_run(conn, run_id, period_start=period.first_day, finalize=finalize, started_by=actor)
        recorder.record(
            conn,
            customer_id=None,
            action="billing_run.started",
            target_type="billing_run",
            target_id=run_id,
            detail={"period": period.label, "finalize": finalize},
        )
    logger.info("billing run started", extra={"run_id": str(run_id), "period": period.label, "finalize": finalize})


def abandon_dead_runs(period: Period, run_id: uuid.UUID, actor: str) -> None:
    """Record as ``abandoned`` the period's runs that died without an outcome (say, killed between chunks).

    Their chunks are whole (each was one transaction), and run ``run_id``,
    which now holds the period, writes what they had not.
    """
    with db.operator_transaction(actor=actor) as conn:
        abandoned = run_repository.abandon_dead_runs(conn, period.first_day, found_by=run_id)
        recorder.record_many(conn, [_abandoned_entry(run, period, run_id) for run in abandoned])
    for run in abandoned:
        logger.warning(
            "billing run abandoned: it ended without recording an outcome",
            extra={"run_id": str(run.id), "period": period.label, "found_by": str(run_id)},
        )


def set_aside(items: Sequence[SetAsideResponse], period: Period, run_id: uuid.UUID, actor: str) -> None:
    """Audit and log each customer the run could not price, and emit the alarm metric (also 0)."""
    if items:
        with db.operator_transaction(actor=actor) as conn:
            recorder.record_many(conn, [_set_aside_entry(item, period, run_id) for item in items])
    for item in items:
        logger.error(
            "billing run set a customer aside",
            extra={
                "run_id": str(run_id),
                "period": period.label,
                "customer_id": str(item.customer_id),
                "reason": item.reason,
            },
        )
    emit_count(SET_ASIDE_METRIC, len(items))


def finished(result: BillingRunResponse, actor: str) -> None:
    with db.operator_transaction(actor=actor) as conn:
        run_repository.finish_run(
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
            detail=result.model_dump(mode="json"),
        )
    logger.info("billing run finished", extra=result.model_dump(mode="json"))


def failed(run_id: uuid.UUID, period: Period, error: Exception, actor: str) -> None:
    message = f"{type(error).__name__}: {error}"
    with db.operator_transaction(actor=actor) as conn:
        run_repository.fail_run(conn, run_id, message)
        recorder.record(
            conn,
            customer_id=None,
            action="billing_run.failed",
            target_type="billing_run",
            target_id=run_id,
            detail={"period": period.label, "error": message[:500]},
        )
    logger.error("billing run failed", extra={"run_id": str(run_id), "period": period.label, "error": message})


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


def _set_aside_entry(item: SetAsideResponse, period: Period, run_id: uuid.UUID) -> AuditEntry:
    # The platform chain: what to do about it is the operators' business.
    return AuditEntry(
        customer_id=None,
        action="billing.customer_set_aside",
        target_type="customer",
        target_id=item.customer_id,
        detail={"period": period.label, "run_id": str(run_id), "reason": item.reason[:500]},
    )
