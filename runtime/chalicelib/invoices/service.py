"""Invoices as the calling customer sees them (its own only: RLS, not a WHERE clause)."""

from __future__ import annotations

import uuid
from datetime import date

from chalicelib.core import db
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.pagination import decode_cursor, encode_cursor
from chalicelib.invoices import repository
from chalicelib.invoices.models import Invoice, InvoicePage


def list_invoices(customer_id: uuid.UUID, *, limit: int, cursor: str | None, status: str | None) -> InvoicePage:
    """A page of the tenant's invoices, newest period first, optionally only one status."""
    after = _decode(cursor)
    with db.tenant_transaction(customer_id) as conn:
        rows = repository.list_page(conn, limit=limit + 1, status=status, after=after)
    items = tuple(rows[:limit])
    next_cursor = encode_cursor(items[-1].period.isoformat(), items[-1].id) if len(rows) > limit else None
    return InvoicePage(items=items, next_cursor=next_cursor)


def get_invoice(customer_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    """One invoice with its lines; another tenant's invoice is simply not found (404)."""
    with db.tenant_transaction(customer_id) as conn:
        invoice = repository.get_with_lines(conn, invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found")
    return invoice


def _decode(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        return date.fromisoformat(values[0]), uuid.UUID(values[1])
    except ValueError as exc:
        raise BadRequest("cursor is malformed") from exc
