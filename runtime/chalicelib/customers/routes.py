"""``GET``/``PATCH /customers/me`` and the operator's ``/admin/customers``."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route
from chalicelib.customers import service
from chalicelib.customers.models import (
    CustomerListQuery,
    CustomerPage,
    CustomerResponse,
    MeResponse,
    OnboardBody,
    OnboardResponse,
    PatchCustomerBody,
    PatchMeBody,
)

bp = Blueprint(__name__)


@route(
    bp,
    "/customers/me",
    auth="customer",
    response=MeResponse,
    summary="The caller's customer record, tier feature matrix and limits",
    tags=("customers",),
    errors=(401, 403),
)
def me() -> MeResponse:
    return service.me(current_customer_id())


@route(
    bp,
    "/customers/me",
    method="PATCH",
    auth="customer",
    body=PatchMeBody,
    response=MeResponse,
    summary="Change the organization's settings (require_mfa: people without MFA are refused while true)",
    tags=("customers",),
    errors=(400, 401, 403),
)
def change_settings(body: PatchMeBody) -> MeResponse:
    return service.change_settings(current_customer_id(), body)


@route(
    bp,
    "/admin/customers",
    method="POST",
    auth="operator",
    status=201,
    body=OnboardBody,
    response=OnboardResponse,
    summary="Onboard a customer, create its first API key and (owner_email) invite its first owner",
    tags=("admin",),
    errors=(400, 401, 403, 409, 422),
)
def onboard(body: OnboardBody) -> OnboardResponse:
    return service.onboard(body)


@route(
    bp,
    "/admin/customers",
    auth="operator",
    query=CustomerListQuery,
    response=CustomerPage,
    summary="List customers",
    tags=("admin",),
    errors=(400, 401, 403),
)
def list_customers(query: CustomerListQuery) -> CustomerPage:
    return service.list_customers(query)


@route(
    bp,
    "/admin/customers/{customer_id}",
    auth="operator",
    response=CustomerResponse,
    summary="One customer",
    tags=("admin",),
    errors=(401, 403, 404),
)
def get_customer(customer_id: str) -> CustomerResponse:
    return service.get(path_uuid(customer_id))


@route(
    bp,
    "/admin/customers/{customer_id}",
    method="PATCH",
    auth="operator",
    body=PatchCustomerBody,
    response=CustomerResponse,
    summary="Change tier, status, tax rate or email",
    tags=("admin",),
    errors=(400, 401, 403, 404, 409, 422),
)
def change_customer(customer_id: str, body: PatchCustomerBody) -> CustomerResponse:
    return service.change(path_uuid(customer_id), body)
