"""Reading invoices inside a tenant transaction: row-level security decides which exist."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import psycopg

from chalicelib.invoices.models import Invoice, InvoiceLine

# Newest period first, keyset-paginated on (period, id): served by invoices_customer_idx.
LIST_FIRST = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at
  FROM invoices
 WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
 ORDER BY period DESC, id DESC LIMIT %(limit)s
"""
LIST_AFTER = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at
  FROM invoices
 WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
   AND (period, id) < (%(period)s, %(id)s)
 ORDER BY period DESC, id DESC LIMIT %(limit)s
"""

GET = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at
  FROM invoices WHERE id = %(id)s
"""

LINES = """
SELECT description, metric_code, quantity, unit_price, amount
  FROM invoice_lines WHERE invoice_id = %(id)s ORDER BY position
"""


def list_page(
    conn: psycopg.Connection, *, limit: int, status: str | None, after: tuple[date, uuid.UUID] | None
) -> list[Invoice]:
    if after is None:
        rows = conn.execute(LIST_FIRST, {"limit": limit, "status": status}).fetchall()
    else:
        rows = conn.execute(
            LIST_AFTER, {"limit": limit, "status": status, "period": after[0], "id": after[1]}
        ).fetchall()
    return [Invoice(**row) for row in rows]


def get_with_lines(conn: psycopg.Connection, invoice_id: uuid.UUID) -> Invoice | None:
    row = conn.execute(GET, {"id": invoice_id}).fetchone()
    if row is None:
        return None
    lines = tuple(InvoiceLine(**line) for line in conn.execute(LINES, {"id": invoice_id}))
    return replace(Invoice(**row), lines=lines)
