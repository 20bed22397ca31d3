"""``/webhook-endpoints`` (customer credentials; the role table's "manage webhook endpoints") and the
sender job, every minute."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.core import contract
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route
from chalicelib.webhooks import service
from chalicelib.webhooks.models import (
    CreateEndpointBody,
    DeliveryListQuery,
    DeliveryPage,
    DeliveryResponse,
    EndpointListQuery,
    EndpointPage,
    NewEndpointResponse,
)

bp = Blueprint(__name__)


@route(
    bp,
    "/webhook-endpoints",
    method="POST",
    auth="customer",
    status=201,
    body=CreateEndpointBody,
    response=NewEndpointResponse,
    summary="Register a webhook endpoint (its signing secret is shown only in this response)",
    tags=("webhooks",),
    errors=(400, 401, 403, 409, 422, 503),
)
def create_endpoint(body: CreateEndpointBody) -> NewEndpointResponse:
    return service.create_endpoint(current_customer_id(), body)


@route(
    bp,
    "/webhook-endpoints",
    auth="customer",
    query=EndpointListQuery,
    response=EndpointPage,
    summary="List webhook endpoints, newest first",
    tags=("webhooks",),
    errors=(400, 401, 403),
)
def list_endpoints(query: EndpointListQuery) -> EndpointPage:
    return service.list_endpoints(current_customer_id(), query)


@route(
    bp,
    "/webhook-endpoints/{endpoint_id}",
    method="DELETE",
    auth="customer",
    status=204,
    summary="Delete a webhook endpoint: nothing more is sent to it",
    tags=("webhooks",),
    errors=(401, 403, 404),
)
def delete_endpoint(endpoint_id: str) -> None:
    service.delete_endpoint(current_customer_id(), path_uuid(endpoint_id))


@route(
    bp,
    "/webhook-endpoints/{endpoint_id}/deliveries",
    auth="customer",
    query=DeliveryListQuery,
    response=DeliveryPage,
    summary="An endpoint's delivery attempts, newest first",
    tags=("webhooks",),
    errors=(400, 401, 403, 404),
)
def list_deliveries(endpoint_id: str, query: DeliveryListQuery) -> DeliveryPage:
    return service.list_deliveries(current_customer_id(), path_uuid(endpoint_id), query)


@route(
    bp,
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry",
    method="POST",
    auth="customer",
    response=DeliveryResponse,
    summary="Send a delivery's event to the endpoint again, now; answers the new attempt",
    tags=("webhooks",),
    errors=(401, 403, 404, 409, 503),
)
def retry_delivery(endpoint_id: str, delivery_id: str) -> DeliveryResponse:
    return service.retry(current_customer_id(), path_uuid(endpoint_id), path_uuid(delivery_id))


DELIVERY_JOB = contract.WEBHOOKS_DELIVERY.name
# Below the schedule's minute, so one run rarely overlaps the next (the leases make overlaps harmless).
DELIVERY_BUDGET_S = 50


@bp.schedule(
    Rate(1, unit=Rate.MINUTES),
    name=DELIVERY_JOB,
    description="Every minute: send due webhook deliveries (first attempts and retries with backoff)",
)
def deliver_webhooks(event: Any) -> dict[str, int]:
    report = service.deliver_due(time_budget_s=DELIVERY_BUDGET_S)
    return {
        "succeeded": report.succeeded,
        "failed": report.failed,
        "skipped": report.skipped,
        "deferred": report.deferred,
    }
