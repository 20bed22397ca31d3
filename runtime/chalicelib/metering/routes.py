"""``POST /metrics`` (ingest a batch of usage events) and ``GET /metrics`` (a month's usage, by day if asked).

``/metrics`` is the contract's name for usage metering; the code calls it
usage. "metrics" elsewhere: the metric catalogue (PostgreSQL ``metrics``:
``api_calls``...), Powertools' CloudWatch metrics (``core.observability``)
and, for now, the logical name of the rate-limit counters' DynamoDB table.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from chalicelib.core import contract
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.core.observability import logger
from chalicelib.metering import partitions, service
from chalicelib.metering.models import IngestResponse, MetricsBatch, UsageQuery, UsageResponse

bp = Blueprint(__name__)


@route(
    bp,
    "/metrics",
    method="POST",
    auth="customer",
    body=MetricsBatch,
    exact_decimals=True,
    response=IngestResponse,
    summary="Record 1-1000 usage events (idempotent on event_id)",
    tags=("metering",),
    errors=(400, 401, 403, 413, 422, 429),
)
def ingest_usage(body: MetricsBatch) -> IngestResponse:
    return service.ingest(current_customer_id(), body.events)


@route(
    bp,
    "/metrics",
    method="GET",
    auth="customer",
    query=UsageQuery,
    response=UsageResponse,
    summary="Used, included and billable units per metric for a month (?daily=true: and per day)",
    tags=("metering",),
    errors=(400, 401, 403, 422, 429),
)
def monthly_usage(query: UsageQuery) -> UsageResponse:
    return service.usage_for_period(current_customer_id(), query.period, daily=query.daily)


@bp.schedule(
    Cron(15, 4, "*", "*", "?", "*"),
    name=contract.USAGE_PARTITIONS_JOB.name,
    description="Daily, 04:15 UTC: create usage_events partitions ahead, detach months past the retention",
)
def usage_partitions_job(event: Any) -> dict[str, Any]:
    report = partitions.maintain()
    result = {"partitions_created": report.created, "months_detached": list(report.detached)}
    logger.info("usage partitions maintained", extra=result)
    return result
