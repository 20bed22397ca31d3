"""Invoices' SQL: reads inside a tenant transaction (row-level security decides which exist), and the
lifecycle's changes on the caller's (operator) transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.db import Connection
from chalicelib.core.pagination import Keyset

# Newest period first: a keyset page (core.pagination) on invoices_customer_idx.
LIST_PAGE = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at, amount_paid, paid_at, payment_status, next_payment_attempt_at
  FROM invoices
 WHERE (%(status)s::text IS NULL OR status = %(status)s::text)
   AND (%(after_period)s::date IS NULL OR (period, id) < (%(after_period)s::date, %(after_id)s::uuid))
 ORDER BY period DESC, id DESC
 LIMIT %(limit)s
"""

GET = """
SELECT id, number, customer_id, period, status, currency, subtotal, discount, tax, total, created_at,
       finalized_at, due_at, amount_paid, paid_at, payment_status, next_payment_attempt_at
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


# What the PDF shows beyond the JSON: the tax rate, when and why it was voided, who is billed.
DOCUMENT = """
SELECT i.id, i.number, i.customer_id, i.period, i.status, i.currency, i.tax_rate, i.subtotal, i.discount, i.tax,
       i.total, i.created_at, i.finalized_at, i.due_at, i.amount_paid, i.paid_at, i.voided_at,
       c.name AS customer_name, c.email AS customer_email
  FROM invoices i JOIN customers c ON c.id = i.customer_id
 WHERE i.id = %(id)s
"""

# The lifecycle's changes take the invoice's row lock first: two operators (or an operator and a
# payment) deciding about one invoice at once are serialized, the second sees the first's outcome.
LOCK = "SELECT id, customer_id, number, period, status, total FROM invoices WHERE id = %(id)s FOR UPDATE"

MARK_PAID = """
UPDATE invoices
   SET status = 'paid', amount_paid = %(amount_paid)s, paid_at = coalesce(%(paid_at)s, now()),
       payment_reference = %(reference)s, payment_status = coalesce(%(payment_status)s, payment_status),
       next_payment_attempt_at = NULL, updated_at = now()
 WHERE id = %(id)s
"""

MARK_UNCOLLECTIBLE = """
UPDATE invoices SET status = 'uncollectible', next_payment_attempt_at = NULL, updated_at = now() WHERE id = %(id)s
"""

VOID = """
UPDATE invoices
   SET status = 'void', voided_at = now(), void_reason = %(reason)s, next_payment_attempt_at = NULL,
       updated_at = now()
 WHERE id = %(id)s
"""


def document(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    """The invoice with its customer's billing details and ``lines``; ``None`` when it is not visible."""
    row = conn.execute(DOCUMENT, {"id": invoice_id}).fetchone()
    if row is None:
        return None
    return {**row, "lines": conn.execute(LINES, {"id": invoice_id}).fetchall()}


def lock(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any] | None:
    """The invoice's row, locked until the caller's transaction ends; ``None`` when it is not visible."""
    return conn.execute(LOCK, {"id": invoice_id}).fetchone()


def mark_paid(
    conn: Connection,
    invoice_id: uuid.UUID,
    *,
    amount_paid: Decimal,
    reference: str,
    paid_at: datetime | None,
    payment_status: str | None,
) -> None:
    conn.execute(
        MARK_PAID,
        {
            "id": invoice_id,
            "amount_paid": amount_paid,
            "reference": reference,
            "paid_at": paid_at,
            "payment_status": payment_status,
        },
    )


def mark_uncollectible(conn: Connection, invoice_id: uuid.UUID) -> None:
    conn.execute(MARK_UNCOLLECTIBLE, {"id": invoice_id})


def void(conn: Connection, invoice_id: uuid.UUID, *, reason: str) -> None:
    conn.execute(VOID, {"id": invoice_id, "reason": reason})
