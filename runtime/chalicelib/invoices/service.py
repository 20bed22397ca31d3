"""Invoices as the calling customer sees them (its own only: RLS, not a WHERE clause), their PDF, and
the operator's lifecycle changes (void, mark paid)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib.core import db
from chalicelib.core.errors import NotFound
from chalicelib.core.money import cents
from chalicelib.core.pagination import keyset_page
from chalicelib.core.periods import Period
from chalicelib.core.settings import get_settings
from chalicelib.invoices import lifecycle, pdf, repository
from chalicelib.invoices.models import InvoicePageResponse, InvoiceResponse, InvoicesQuery, InvoiceSummaryResponse
from chalicelib.webhooks import events as webhooks


@dataclass(frozen=True, slots=True)
class PdfFile:
    filename: str
    content: bytes


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


def invoice_pdf(customer_id: uuid.UUID, invoice_id: uuid.UUID) -> PdfFile:
    """The invoice rendered as PDF (a draft is marked DRAFT); another tenant's is not found (404).

    Rendered on every request, never cached: it takes milliseconds, and a cache would have to
    know when a draft was recomputed or an invoice paid.
    """
    with db.tenant_transaction(customer_id) as conn:
        row = repository.document(conn, invoice_id)
    if row is None:
        raise NotFound("Invoice not found")
    settings = get_settings()
    issuer = pdf.Issuer(name=settings.platform_name, address=settings.platform_address)
    return PdfFile(filename=f"{row['number']}.pdf", content=pdf.render(document(row), issuer))


def document(row: dict[str, Any]) -> pdf.InvoiceDocument:
    """:func:`repository.document`'s row as the PDF template's input."""
    return pdf.InvoiceDocument(
        number=row["number"],
        period=Period.of(row["period"]),
        status=row["status"],
        currency=row["currency"],
        customer_name=row["customer_name"],
        customer_email=row["customer_email"],
        tax_rate=row["tax_rate"],
        subtotal=row["subtotal"],
        discount=row["discount"],
        tax=row["tax"],
        total=row["total"],
        amount_paid=row["amount_paid"],
        lines=tuple(
            pdf.DocumentLine(line["description"], line["quantity"], line["unit_price"], line["amount"])
            for line in row["lines"]
        ),
        created_at=row["created_at"],
        finalized_at=row["finalized_at"],
        due_at=row["due_at"],
        paid_at=row["paid_at"],
        voided_at=row["voided_at"],
    )


def void_invoice(invoice_id: uuid.UUID, *, reason: str) -> InvoiceResponse:
    """The operator voids a finalized, unpaid invoice (404 unknown, 409 otherwise)."""
    with db.operator_transaction() as conn:
        invoice = lifecycle.void(conn, invoice_id, reason=reason)
    return InvoiceResponse.model_validate(invoice)


def mark_invoice_paid(invoice_id: uuid.UUID, *, reference: str) -> InvoiceResponse:
    """The operator records a payment made outside the processor, of the whole total (404, 409).

    The tenant's endpoints hear ``invoice.paid`` as for a card payment (the payments area emits
    its own; ``lifecycle.mark_paid`` emits none, so neither path announces a payment twice).
    """
    with db.operator_transaction() as conn:
        current = repository.lock(conn, invoice_id)
        if current is None:
            raise NotFound("Invoice not found")
        invoice = lifecycle.mark_paid(conn, invoice_id, amount_paid=current["total"], reference=reference)
        event_id = webhooks.emit(
            conn, customer_id=invoice["customer_id"], event_type=webhooks.INVOICE_PAID, data=paid_event(invoice)
        )
    webhooks.send_soon([event_id])
    return InvoiceResponse.model_validate(invoice)


def paid_event(invoice: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of an ``invoice.paid`` event: the shape of the billing run's and the payments' invoice events."""
    return {
        "id": invoice["id"],
        "number": invoice["number"],
        "period": Period.of(invoice["period"]).label,
        "status": invoice["status"],
        "total_cents": cents(invoice["total"]),
        "amount_paid_cents": cents(invoice["amount_paid"]),
        "payment_status": invoice["payment_status"],
    }
