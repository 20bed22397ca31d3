"""``/usage-alerts``: create, list, delete a tenant's usage alerts (the firing happens at ingestion)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.alerts import service
from chalicelib.alerts.models import AlertListQuery, CreateAlertBody, UsageAlertPage, UsageAlertResponse
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route

bp = Blueprint(__name__)


@route(
    bp,
    "/usage-alerts",
    method="POST",
    auth="customer",
    status=201,
    body=CreateAlertBody,
    response=UsageAlertResponse,
    summary="Alert when a month's usage of a metric reaches a threshold (once per month)",
    tags=("usage-alerts",),
    errors=(400, 401, 403, 409, 422),
)
def create_alert(body: CreateAlertBody) -> UsageAlertResponse:
    return service.create(current_customer_id(), body)


@route(
    bp,
    "/usage-alerts",
    auth="customer",
    query=AlertListQuery,
    response=UsageAlertPage,
    summary="List usage alerts",
    tags=("usage-alerts",),
    errors=(400, 401, 403),
)
def list_alerts(query: AlertListQuery) -> UsageAlertPage:
    return service.list_alerts(current_customer_id(), query)


@route(
    bp,
    "/usage-alerts/{alert_id}",
    method="DELETE",
    auth="customer",
    status=204,
    summary="Delete a usage alert",
    tags=("usage-alerts",),
    errors=(401, 403, 404),
)
def delete_alert(alert_id: str) -> None:
    service.delete(current_customer_id(), path_uuid(alert_id))
