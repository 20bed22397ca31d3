"""Reading invoices inside a tenant transaction: row-level security decides which exist."""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.core.db import Connection
from chalicelib.core.pagination import Keyset

# Newest period first: a keyset page (core.pagination) on invoices_customer_idx.
LIST_PAGE = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at
  FROM invoices
 WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
   AND (%(after_period)s::date IS NULL OR (period, id) < (%(after_period)s::date, %(after_id)s::uuid))
 ORDER BY period DESC, id DESC
 LIMIT %(limit)s
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


def list_page(conn: Connection, *, limit: int, status: str | None, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` of the tenant's invoices (of ``status``, if given) older than ``after`` (period, id)."""
    after_period, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"status": status, "after_period": after_period, "after_id": after_id, "limit": limit}
    ).fetchall()


def get_with_lines(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    """The invoice with its ``lines`` in order; ``None`` when it is not the tenant's."""
    row = conn.execute(GET, {"id": invoice_id}).fetchone()
    if row is None:
        return None
    return {**row, "lines": conn.execute(LINES, {"id": invoice_id}).fetchall()}
