"""The calling customer's invoices (list, one, its PDF, the upcoming one) and the operator's void and mark-paid."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route
from chalicelib.invoices import service, upcoming
from chalicelib.invoices.models import (
    InvoicePageResponse,
    InvoiceResponse,
    InvoicesQuery,
    MarkPaidBody,
    UpcomingInvoiceResponse,
    VoidInvoiceBody,
)

bp = Blueprint(__name__)

PDF = "application/pdf"


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


# Registered before /invoices/{invoice_id}: routers prefer the literal segment either way.
@route(
    bp,
    "/invoices/upcoming",
    auth="customer",
    response=UpcomingInvoiceResponse,
    summary="The current period's invoice as if the period ended now, with a forecast to its end",
    tags=("invoices",),
    errors=(401, 403, 404, 422, 429),
)
def get_upcoming_invoice() -> UpcomingInvoiceResponse:
    return upcoming.upcoming_invoice(current_customer_id())


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


@route(
    bp,
    "/invoices/{invoice_id}/pdf",
    auth="customer",
    media_type=PDF,
    summary="The invoice as a PDF document (a draft is marked DRAFT); send Accept: application/pdf",
    tags=("invoices",),
    # 400: an Accept header that rules out application/pdf (Chalice refuses a binary answer then).
    errors=(400, 401, 403, 404, 429),
)
def get_invoice_pdf(invoice_id: str) -> Response:
    document = service.invoice_pdf(current_customer_id(), path_uuid(invoice_id))
    return Response(
        body=document.content,
        status_code=200,
        headers={"Content-Type": PDF, "Content-Disposition": f'inline; filename="{document.filename}"'},
    )


@route(
    bp,
    "/admin/invoices/{invoice_id}/void",
    method="POST",
    auth="operator",
    body=VoidInvoiceBody,
    response=InvoiceResponse,
    summary="Void a finalized, unpaid invoice (409 otherwise)",
    tags=("admin",),
    errors=(400, 401, 403, 404, 409),
)
def void_invoice(invoice_id: str, body: VoidInvoiceBody) -> InvoiceResponse:
    return service.void_invoice(path_uuid(invoice_id), reason=body.reason)


@route(
    bp,
    "/admin/invoices/{invoice_id}/mark-paid",
    method="POST",
    auth="operator",
    body=MarkPaidBody,
    response=InvoiceResponse,
    summary="Record a payment of a finalized, unpaid invoice made outside the processor (409 otherwise)",
    tags=("admin",),
    errors=(400, 401, 403, 404, 409),
)
def mark_invoice_paid(invoice_id: str, body: MarkPaidBody) -> InvoiceResponse:
    return service.mark_invoice_paid(path_uuid(invoice_id), reference=body.reference)
