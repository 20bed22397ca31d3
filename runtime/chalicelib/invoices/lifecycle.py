"""An invoice's life after finalization: paid, void, uncollectible (migration 0039).

    draft -> finalized -> paid | void | uncollectible,   uncollectible -> paid | void

Each function runs on the caller's connection, inside the caller's unit of
work, so the change, its audit event (and whatever else the caller does, such
as a webhook event) commit together or not at all. It takes the invoice's row
lock first: two deciders (an operator and a payment, say) are serialized and
the second one sees the first one's outcome, a 409.

The connection must be allowed to update invoices: an operator transaction
(``db.operator_transaction``) or a job's. The tenant role ``saas_app`` only
reads invoices, on purpose: no tenant credential may move its own invoice.
The database's freeze trigger holds the same arrows, so nothing can take
another path around these functions.

Each returns the invoice as :func:`chalicelib.invoices.repository.get_with_lines`
reads it (validate it with ``InvoiceResponse``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.audit import recorder
from chalicelib.core.db import Connection
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.money import CENT, cents
from chalicelib.invoices import repository
from chalicelib.invoices.models import PaymentStatus

# Both are finalized and unpaid: an uncollectible invoice is one that collection gave up on.
PAYABLE = frozenset({"finalized", "uncollectible"})


def mark_paid(
    conn: Connection,
    invoice_id: uuid.UUID,
    *,
    amount_paid: Decimal,
    reference: str,
    paid_at: datetime | None = None,
    payment_status: PaymentStatus | None = None,
) -> dict[str, Any]:
    """Record that the invoice was paid (``invoice.paid``); ``paid_at`` defaults to the database's now.

    ``reference`` names the payment (a processor's charge id, a bank transfer's
    reference). ``payment_status`` (e.g. ``"succeeded"``) is written in the
    same statement when given: a paid invoice never changes again, so the
    processor's last word must arrive with the payment, not after it.

    Raises
    ------
    NotFound
        No such invoice (or not visible to ``conn``).
    Conflict
        The invoice is a draft, already paid or void.
    ValueError
        ``amount_paid`` is negative or not whole cents (a caller's bug, not a client's input).
    """
    if amount_paid < 0 or amount_paid != amount_paid.quantize(CENT):
        raise ValueError(f"amount_paid must be whole, non-negative cents, not {amount_paid}")
    invoice = _payable(conn, invoice_id, "paid")
    repository.mark_paid(
        conn,
        invoice_id,
        amount_paid=amount_paid,
        reference=reference,
        paid_at=paid_at,
        payment_status=payment_status,
    )
    detail = _detail(invoice) | {"amount_paid_cents": cents(amount_paid), "reference": reference}
    return _audited(conn, invoice, "invoice.paid", detail)


def mark_uncollectible(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any]:
    """Give up collecting a finalized invoice (``invoice.marked_uncollectible``); it may still be paid or voided.

    Raises ``NotFound``, or ``Conflict`` unless the invoice is finalized (and unpaid).
    """
    invoice = _locked(conn, invoice_id)
    if invoice["status"] != "finalized":
        raise Conflict(
            f"Invoice {invoice['number']} is {invoice['status']}: only a finalized invoice can become uncollectible"
        )
    repository.mark_uncollectible(conn, invoice_id)
    return _audited(conn, invoice, "invoice.marked_uncollectible", _detail(invoice))


def void(conn: Connection, invoice_id: uuid.UUID, *, reason: str) -> dict[str, Any]:
    """Void a finalized, unpaid invoice (``invoice.voided``, with the reason): nothing is owed any more.

    Raises ``NotFound``, or ``Conflict`` when it is a draft, paid or already void.
    """
    invoice = _payable(conn, invoice_id, "void")
    repository.void(conn, invoice_id, reason=reason)
    return _audited(conn, invoice, "invoice.voided", _detail(invoice) | {"reason": reason})


def _locked(conn: Connection, invoice_id: uuid.UUID) -> dict[str, Any]:
    invoice = repository.lock(conn, invoice_id)
    if invoice is None:
        raise NotFound("Invoice not found")
    return invoice


def _payable(conn: Connection, invoice_id: uuid.UUID, becoming: str) -> dict[str, Any]:
    invoice = _locked(conn, invoice_id)
    if invoice["status"] not in PAYABLE:
        raise Conflict(
            f"Invoice {invoice['number']} is {invoice['status']}: only a finalized, unpaid invoice can become {becoming}"
        )
    return invoice


def _detail(invoice: dict[str, Any]) -> dict[str, Any]:
    return {"number": invoice["number"], "from": invoice["status"], "total_cents": cents(invoice["total"])}


def _audited(conn: Connection, invoice: dict[str, Any], action: str, detail: dict[str, Any]) -> dict[str, Any]:
    recorder.record(
        conn,
        customer_id=invoice["customer_id"],
        action=action,
        target_type="invoice",
        target_id=invoice["id"],
        detail=detail,
    )
    changed = repository.get_with_lines(conn, invoice["id"])
    if changed is None:  # it was locked above, in this very transaction
        raise NotFound("Invoice not found")
    return changed
