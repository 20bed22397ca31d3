"""Invoices as the calling customer sees them (its own only: RLS, not a WHERE clause)."""

from __future__ import annotations

import uuid

from chalicelib.core import db
from chalicelib.core.errors import NotFound
from chalicelib.core.pagination import keyset_page
from chalicelib.invoices import repository
from chalicelib.invoices.models import InvoicePageResponse, InvoiceResponse, InvoicesQuery, InvoiceSummaryResponse


def list_invoices(customer_id: uuid.UUID, query: InvoicesQuery) -> InvoicePageResponse:
    """A page of the tenant's invoices, newest period first, optionally only one status."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query,
            lambda limit, after: repository.list_page(conn, limit=limit, status=query.status, after=after),
            sort="period",
            by_date=True,
        )
    return InvoicePageResponse(
        items=[InvoiceSummaryResponse.model_validate(row) for row in rows], next_cursor=next_cursor
    )


def get_invoice(customer_id: uuid.UUID, invoice_id: uuid.UUID) -> InvoiceResponse:
    """One invoice with its lines; another tenant's invoice is simply not found (404)."""
    with db.tenant_transaction(customer_id) as conn:
        invoice = repository.get_with_lines(conn, invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found")
    return InvoiceResponse.model_validate(invoice)
