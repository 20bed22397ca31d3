"""The payment-failed e-mail (template ``invoice_payment_failed``): a plain-text and an HTML body.

Queued in the transaction that records the declined attempt, to the
customer's contact address, and delivered like every e-mail
(``notifications``). One per attempt: its idempotency key names the invoice
and the attempt, so recording the same decline twice queues one e-mail.
"""

from __future__ import annotations

import functools
import html
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from string import Template

from chalicelib.core.money import dollars
from chalicelib.notifications.models import EmailMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "invoice_payment_failed"
# What a decline code means to a person (Stripe's codes; anything else is shown as the bank's refusal).
REASONS = {
    "card_declined": "the card was declined",
    "insufficient_funds": "insufficient funds",
    "expired_card": "the card has expired",
    "authentication_required": "the bank wants you to confirm the payment yourself",
    "incorrect_cvc": "the security code was refused",
    "processing_error": "an error while processing the card",
}


@functools.cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))


def idempotency_key(invoice_id: uuid.UUID, attempt: int) -> str:
    return f"{TEMPLATE_NAME}:{invoice_id}:{attempt}"


def payment_failed_message(
    *,
    customer_id: uuid.UUID,
    customer_name: str,
    recipient: str,
    invoice_id: uuid.UUID,
    number: str,
    period: date,
    total: Decimal,
    attempt: int,
    failure_code: str | None,
    next_attempt_at: datetime | None,
) -> EmailMessage:
    """The e-mail for one declined attempt; ``next_attempt_at`` ``None`` says collection has given up."""
    if next_attempt_at is not None:
        next_step = (
            f"We will try again on {next_attempt_at.astimezone(UTC).date().isoformat()} (UTC). "
            "Nothing else is needed if the card can be charged by then."
        )
    else:
        next_step = (
            "This was our last attempt: the invoice is now marked uncollectible. "
            "It can still be paid: add a card, or contact us."
        )
    values = {
        "number": number,
        "period_name": period.strftime("%B %Y"),
        "total": dollars(total),
        "reason": REASONS.get(failure_code or "", "the payment was refused"),
        "next_step": next_step,
    }
    text = _template(f"{TEMPLATE_NAME}.txt").substitute(values, customer_name=customer_name)
    body = _template(f"{TEMPLATE_NAME}.html").substitute(
        {key: html.escape(value) for key, value in values.items()}, customer_name=html.escape(customer_name)
    )
    return EmailMessage(
        customer_id=customer_id,
        template=TEMPLATE_NAME,
        recipient=recipient,
        subject=f"Payment failed for invoice {number} ({dollars(total)}), attempt {attempt}",
        text_body=text,
        html_body=body,
        idempotency_key=idempotency_key(invoice_id, attempt),
        related_type="invoice",
        related_id=invoice_id,
    )
