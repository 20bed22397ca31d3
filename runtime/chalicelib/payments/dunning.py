"""When invoices are charged: after a finalizing billing run, every day (dunning), and on a new card.

* :func:`charge_finalized`: the billing run, once its finalizing chunks have
  committed, charges the period's invoices whose customer has a card, within a
  time budget (a request must answer within API Gateway's 29 s). What it does not
  reach, the daily job charges: nothing depends on the run doing it.
* :func:`run`: the daily job (``payments_dunning``, 03:30 UTC, after the
  billing job finalized at 03:00). It charges every finalized invoice that is
  due as of ``as_of``: never tried (the run's budget ran out, or the process
  died between finalizing and charging), ``pending`` whose claim died or could
  not reach Stripe, and failed ones whose retry date has come
  (``next_payment_attempt_at <= as_of``).
* :func:`retry_customer`: a new card charges at once every invoice the
  customer still owes, uncollectible ones included.

``as_of`` is the clock's seam: dunning's dates (3, 5, 7 days) are computed from
it, so a test (and the local stack's operator route) lives through the days of
dunning by passing later moments. Leases of in-flight attempts keep to the
database's own clock.

A Stripe outage stops a run where it is (the breaker makes the remaining calls
fail fast anyway): everything left stays due for the next run.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from chalicelib.core import db
from chalicelib.core.observability import logger
from chalicelib.core.periods import Period, utc_now
from chalicelib.payments import charges, repository
from chalicelib.payments.models import ChargeReport

BATCH_SIZE = 100
JOB_BUDGET_S = 600.0
# The billing run's share of a request: the rest of the period's charges are the job's.
FINALIZE_BUDGET_S = 10.0
# A customer owes a handful of invoices; more than this waits for the job.
CUSTOMER_LIMIT = 24


def run(as_of: datetime | None = None, *, budget_s: float = JOB_BUDGET_S, actor: str | None = None) -> ChargeReport:
    """Charge every invoice due as of ``as_of`` (default now), oldest first, for at most ``budget_s``."""
    return _charge_due(as_of or utc_now(), period=None, budget_s=budget_s, actor=actor or charges.PAYMENTS_ACTOR)


def charge_finalized(
    period: Period, *, now: datetime | None = None, budget_s: float = FINALIZE_BUDGET_S
) -> ChargeReport:
    """Charge ``period``'s finalized invoices that were never charged (the billing run's last step). Never raises."""
    as_of = now or utc_now()
    try:
        report = _charge_due(as_of, period=period, budget_s=budget_s, actor=charges.PAYMENTS_ACTOR)
    except Exception:  # noqa: BLE001 - the run's invoices are committed; the daily job charges them
        logger.exception("charging the finalized invoices failed; the daily job will", extra={"period": period.label})
        return ChargeReport(as_of=as_of, errors=1)
    logger.info("finalized invoices charged", extra={"period": period.label, **_summary(report)})
    return report


def retry_customer(customer_id: uuid.UUID, *, actor: str, as_of: datetime | None = None) -> ChargeReport:
    """Charge every invoice ``customer_id`` still owes, now (its card just changed). Never raises."""
    report = ChargeReport(as_of=as_of or utc_now())
    try:
        with db.operator_transaction(actor=actor) as conn:
            owed = repository.open_for_customer(conn, customer_id, minimum=charges.MINIMUM_CHARGE, limit=CUSTOMER_LIMIT)
        charges.charge_many(owed, as_of=report.as_of, actor=actor, report=report, deadline=None)
    except Exception:  # noqa: BLE001 - the card is saved; dunning retries on its own schedule
        logger.exception("retrying a customer's invoices failed", extra={"customer_id": str(customer_id)})
        report.errors += 1
    return report


def _charge_due(as_of: datetime, *, period: Period | None, budget_s: float, actor: str) -> ChargeReport:
    report = ChargeReport(as_of=as_of)
    deadline = time.monotonic() + budget_s
    # A keyset walk: each invoice is tried once per run, whatever came of it (one still due, or in
    # flight elsewhere, is not met again).
    after: tuple[datetime, uuid.UUID] | None = None
    while not (report.stripe_unavailable or report.out_of_time):
        with db.operator_transaction(actor=actor) as conn:
            batch = repository.due(
                conn,
                as_of=as_of,
                minimum=charges.MINIMUM_CHARGE,
                limit=BATCH_SIZE,
                period=None if period is None else period.first_day,
                after=after,
            )
        if not batch:
            break
        after = batch[-1]
        charges.charge_many(
            [invoice_id for _, invoice_id in batch], as_of=as_of, actor=actor, report=report, deadline=deadline
        )
    return report


def _summary(report: ChargeReport) -> dict[str, object]:
    return {
        "attempted": report.attempted,
        "succeeded": report.succeeded,
        "failed": report.failed,
        "uncollectible": report.uncollectible,
        "stripe_unavailable": report.stripe_unavailable,
        "out_of_time": report.out_of_time,
        "errors": report.errors,
    }


def summary(report: ChargeReport) -> dict[str, object]:
    """The report as a log line's (and the job's answer's) fields."""
    return {"as_of": report.as_of.isoformat(), **_summary(report)}
