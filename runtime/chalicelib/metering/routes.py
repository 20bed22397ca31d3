"""``POST /metrics`` (ingest a batch of usage events) and ``GET /metrics`` (a month's usage).

``/metrics`` is the contract's name for usage metering; the code calls it
usage. "metrics" elsewhere: the metric catalogue (PostgreSQL ``metrics``:
``api_calls``...), Powertools' CloudWatch metrics (``core.observability``)
and, for now, the logical name of the rate-limit counters' DynamoDB table.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.metering import service
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
    summary="Used, included and billable units per metric for a month",
    tags=("metering",),
    errors=(400, 401, 403, 422, 429),
)
def monthly_usage(query: UsageQuery) -> UsageResponse:
    return service.usage_for_period(current_customer_id(), query.period)
