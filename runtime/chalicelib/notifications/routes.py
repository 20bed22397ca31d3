"""``GET /notifications`` (the caller's e-mail delivery records) and the frequent delivery job."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.core import contract
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.core.observability import logger
from chalicelib.notifications import service
from chalicelib.notifications.models import NotificationPageResponse, NotificationsQuery

bp = Blueprint(__name__)


@route(
    bp,
    "/notifications",
    auth="customer",
    query=NotificationsQuery,
    response=NotificationPageResponse,
    summary="E-mail delivery records (queued, sent, failed), newest first",
    tags=("notifications",),
    errors=(400, 401, 403, 429),
)
def list_notifications(query: NotificationsQuery) -> NotificationPageResponse:
    return service.list_notifications(current_customer_id(), query)


DELIVERY_JOB = contract.NOTIFICATIONS_DELIVERY.name
DELIVERY_BUDGET_S = 240


@bp.schedule(
    Rate(5, unit=Rate.MINUTES),
    name=DELIVERY_JOB,
    description="Every 5 minutes: send newly queued e-mails (failed ones wait for the daily billing job)",
)
def deliver_queued_notifications(event: Any) -> dict[str, int]:
    report = service.deliver_pending(include_failed=False, time_budget_s=DELIVERY_BUDGET_S)
    logger.info(
        "queued notifications delivered",
        extra={"sent": report.sent, "failed": report.failed, "deferred": report.deferred},
    )
    return {"sent": report.sent, "failed": report.failed, "skipped": report.skipped, "deferred": report.deferred}
