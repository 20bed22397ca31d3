"""``GET /invoices`` and ``GET /invoices/{id}`` for the calling customer."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route
from chalicelib.invoices import service
from chalicelib.invoices.models import InvoicePageResponse, InvoiceResponse, InvoicesQuery

bp = Blueprint(__name__)


@route(
    bp,
    "/invoices",
    auth="customer",
    query=InvoicesQuery,
    response=InvoicePageResponse,
    summary="The caller's invoices, newest period first",
    tags=("invoices",),
    errors=(400, 401, 403, 429),
)
def list_invoices(query: InvoicesQuery) -> InvoicePageResponse:
    return service.list_invoices(current_customer_id(), query)


@route(
    bp,
    "/invoices/{invoice_id}",
    auth="customer",
    response=InvoiceResponse,
    summary="One invoice with its lines",
    tags=("invoices",),
    errors=(401, 403, 404, 429),
)
def get_invoice(invoice_id: str) -> InvoiceResponse:
    return service.get_invoice(current_customer_id(), path_uuid(invoice_id))
