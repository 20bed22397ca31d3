"""``POST /metrics`` (ingest a batch of usage events) and ``GET /metrics`` (a month's usage)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.metering import service
from chalicelib.metering.models import IngestResponse, MetricsBatch, MetricsQuery, UsageResponse

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
def ingest_metrics(body: MetricsBatch) -> dict:
    return service.ingest(current_customer_id(), body.events).as_json()


@route(
    bp,
    "/metrics",
    method="GET",
    auth="customer",
    query=MetricsQuery,
    response=UsageResponse,
    summary="Used, included and billable units per metric for a month",
    tags=("metering",),
    errors=(400, 401, 403, 422, 429),
)
def get_metrics(query: MetricsQuery) -> dict:
    return service.usage_for_period(current_customer_id(), query.period).as_json()
