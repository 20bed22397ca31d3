"""The invoice e-mail: a plain-text and an HTML body rendered from the templates next to this module.

A finalized invoice's e-mail is queued in the chunk that finalizes it
(:func:`invoice_message`) and delivered later by the notifications jobs.
"""

from __future__ import annotations

import functools
import html
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from string import Template

from chalicelib.billing.models import PlannedInvoice
from chalicelib.billing.pricing import Line
from chalicelib.core.money import dollars, plain
from chalicelib.core.periods import Period
from chalicelib.core.settings import get_settings
from chalicelib.notifications.models import EmailMessage

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "invoice"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text_body: str
    html_body: str


@functools.cache
def _template(name: str) -> str:
    """A ``string.Template`` file compiled once to a ``str.format`` string (``$x``/``${x}`` → ``{x}``).

    ``Template.substitute`` runs a regular expression and a Python call per
    placeholder on every e-mail; a finalizing run renders one per invoice
    (100,000 at the benchmark's tenfold scale). Same placeholders, same
    ``KeyError`` for a missing one; literal braces are escaped.
    """
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    parts: list[str] = []
    position = 0
    for match in Template.pattern.finditer(source):
        parts.append(source[position : match.start()].replace("{", "{{").replace("}", "}}"))
        if match.group("escaped") is not None:
            parts.append("$")
        elif (key := match.group("named") or match.group("braced")) is not None:
            parts.append("{" + key + "}")
        else:
            raise ValueError(f"invalid placeholder in {name} at {match.start()}")
        position = match.end()
    parts.append(source[position:].replace("{", "{{").replace("}", "}}"))
    return "".join(parts)


def render_invoice_email(
    *,
    customer_name: str,
    number: str,
    period: Period,
    lines: Sequence[Line],
    subtotal: Decimal,
    discount: Decimal,
    tax: Decimal,
    total: Decimal,
    tax_rate: Decimal,
    due_at: datetime,
    invoice_id: uuid.UUID | None = None,
) -> RenderedEmail:
    """Render the e-mail for one finalized invoice (period, lines, totals, due date).

    It links to the invoice in the customer portal (``<portal_url>/invoices/<id>``, where the PDF
    is one click away) and names the API path of its PDF.
    """
    portal = get_settings().portal_url
    invoice_url = f"{portal}/invoices/{invoice_id}" if invoice_id is not None else f"{portal}/invoices"
    pdf_path = f"/invoices/{invoice_id}/pdf" if invoice_id is not None else "/invoices/{id}/pdf"
    period_name = period.first_day.strftime("%B %Y")
    due = due_at.astimezone(UTC).date().isoformat()
    tax_label = f"Tax ({plain(tax_rate * 100)}%)"
    text_lines = "\n".join(
        f"  {line.description}\n      {plain(line.quantity, grouped=True)} x {plain(line.unit_price)}"
        f" = {dollars(line.amount)}"
        for line in lines
    )
    html_lines = "\n".join(
        f'<tr><td>{html.escape(line.description)}</td><td class="num">{html.escape(plain(line.quantity, grouped=True))}</td><td class="num">{html.escape(plain(line.unit_price))}</td><td class="num">{html.escape(dollars(line.amount))}</td></tr>'
        for line in lines
    )
    values = {
        "number": number,
        "period": period.label,
        "period_name": period_name,
        "due_date": due,
        "subtotal": dollars(subtotal),
        "discount": dollars(discount),
        "tax_label": tax_label,
        "tax": dollars(tax),
        "total": dollars(total),
        "invoice_url": invoice_url,
        "pdf_path": pdf_path,
    }
    text = _template("invoice_email.txt").format_map(values | {"customer_name": customer_name, "lines": text_lines})
    body = _template("invoice_email.html").format_map(
        {key: html.escape(value) for key, value in values.items()}
        | {"customer_name": html.escape(customer_name), "lines": html_lines}
    )
    subject = f"Invoice {number} for {period_name}: {dollars(total)} due {due}"
    return RenderedEmail(subject=subject, text_body=text, html_body=body)


def invoice_message(plan: PlannedInvoice, period: Period, due_at: datetime) -> EmailMessage:
    """The e-mail to queue for the invoice ``plan`` has just finalized (idempotent per invoice)."""
    priced = plan.priced
    rendered = render_invoice_email(
        customer_name=plan.customer.name,
        number=plan.number or "",
        period=period,
        lines=priced.lines,
        subtotal=priced.subtotal,
        discount=priced.discount,
        tax=priced.tax,
        total=priced.total,
        tax_rate=plan.customer.tax_rate,
        due_at=due_at,
        invoice_id=plan.invoice_id,
    )
    return EmailMessage(
        customer_id=plan.customer.customer_id,
        template=TEMPLATE_NAME,
        recipient=plan.customer.email,
        subject=rendered.subject,
        text_body=rendered.text_body,
        html_body=rendered.html_body,
        idempotency_key=f"invoice:{plan.invoice_id}",
        related_type="invoice",
        related_id=plan.invoice_id,
    )
