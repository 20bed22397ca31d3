"""``POST /admin/billing-runs`` and the two billing schedules (EventBridge rules in the cloud)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from chalicelib.billing import service
from chalicelib.billing.models import BillingRunRequest, BillingRunResponse
from chalicelib.core import contract
from chalicelib.core.http import route
from chalicelib.core.observability import logger
from chalicelib.metering import partitions

bp = Blueprint(__name__)

MONTHLY_RUN = contract.BILLING_MONTHLY_RUN.name
DAILY_JOB = contract.BILLING_DAILY_JOB.name


@route(
    bp,
    "/admin/billing-runs",
    method="POST",
    auth="operator",
    body=BillingRunRequest,
    response=BillingRunResponse,
    summary="Bill a period that has ended (idempotent; finalize freezes and queues e-mails)",
    tags=("billing",),
    errors=(400, 401, 403, 409, 422),
)
def create_billing_run(body: BillingRunRequest) -> BillingRunResponse:
    return service.run(body.period, finalize=body.finalize)


@bp.schedule(
    Cron(0, 2, 1, "*", "?", "*"),
    name=MONTHLY_RUN,
    description="1st of each month, 02:00 UTC: bill the previous month as drafts",
)
def monthly_billing_run(event: Any) -> dict[str, Any]:
    result = service.bill_previous_month().model_dump(mode="json")
    logger.info("monthly billing run done", extra=result)
    return result


@bp.schedule(
    Cron(0, 3, "*", "*", "?", "*"),
    name=DAILY_JOB,
    description="Daily, 03:00 UTC: usage partitions ahead; finalize drafts past the grace period; send e-mails",
)
def daily_billing_job(event: Any) -> dict[str, Any]:
    # First, and cheap: next months' usage partitions (the usage-partitions job makes them too; a
    # month without one is still created by ingestion). A failure here must not stop billing.
    try:
        partitions_created: int | None = partitions.ensure_ahead()
    except Exception:  # noqa: BLE001 - logged, then raised after the billing work below
        logger.exception("usage partitions could not be created ahead")
        partitions_created = None
    report = service.daily()
    if partitions_created is None:
        raise RuntimeError("daily billing job: usage partitions could not be created ahead")
    return {
        "periods_finalized": list(report.periods_finalized),
        "emails_sent": report.emails_sent,
        "emails_failed": report.emails_failed,
        "usage_partitions_created": partitions_created,
    }
