"""The invoice PDF: one template, drawn with fpdf2 (pure Python, nothing Lambda lacks).

Deterministic: the same invoice gives the same bytes. The document's creation
date is the invoice's own (finalized, else created), and fpdf2 derives the
trailer's ``/ID`` from the content and that date; nothing else varies (no
random ids, no clock, no XMP metadata).

Text uses PDF's standard Helvetica, which every reader has, so nothing is
embedded and a render takes ~11 ms (median, `make bench`) (embedding a Unicode TrueType
font costs ~120 ms a render and a megabyte in the package). Its range is
Windows-1252 (Western European, with €, curly quotes and dashes): any other
character is shown as ``?`` here, while the JSON and the e-mail carry the
exact text.

Amounts are formatted from ``Decimal`` (``core.money``), never through float.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.core.money import dollars, plain
from chalicelib.core.periods import Period

if TYPE_CHECKING:
    from fpdf import FPDF

ENCODING = "windows-1252"
# A4 with 15 mm margins: 180 mm of width.
MARGIN = 15.0
WIDTH = 180.0
COLUMNS = (96.0, 28.0, 28.0, 28.0)  # description, quantity, unit price, amount
GREY = (120, 120, 120)
STAMP_COLOURS = {"DRAFT": (200, 200, 200), "PAID": (46, 139, 87), "VOID": (190, 40, 40)}
STAMPS = {"draft": "DRAFT", "paid": "PAID", "void": "VOID", "uncollectible": "UNCOLLECTIBLE"}


@dataclass(frozen=True, slots=True)
class Issuer:
    """The platform that issues the invoice: its name and postal address lines (settings)."""

    name: str
    address: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    """Everything the PDF shows: the invoice, its lines and the customer's billing details."""

    number: str
    period: Period
    status: str
    currency: str
    customer_name: str
    customer_email: str
    tax_rate: Decimal
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    amount_paid: Decimal
    lines: tuple[DocumentLine, ...]
    created_at: datetime
    finalized_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None


def render(invoice: InvoiceDocument, issuer: Issuer) -> bytes:
    """The invoice as PDF bytes; the same arguments always give the same bytes."""
    from fpdf import FPDF  # imported on first use: the other routes' cold starts do not pay for it

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=MARGIN + 10)
    pdf.set_creation_date(invoice.finalized_at or invoice.created_at)
    pdf.set_title(_text(f"Invoice {invoice.number}"))
    pdf.set_author(_text(issuer.name))
    pdf.set_subject(_text(f"{invoice.customer_name}, {invoice.period.label}"))
    pdf.add_page()
    _stamp(pdf, invoice.status)
    _header(pdf, invoice, issuer)
    _lines(pdf, invoice.lines)
    _totals(pdf, invoice)
    _footer(pdf, invoice)
    return bytes(pdf.output())


def money(amount: Decimal) -> str:
    """``$1,234.50``; a negative amount is ``-$5.00``."""
    return "-" + dollars(-amount) if amount < 0 else dollars(amount)


def unit_price(price: Decimal) -> str:
    """At least two decimals, and every decimal the price has: ``$2,000.00``, ``$1.50``, ``$0.002``."""
    normalized = price.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return "$" + plain(price, grouped=True)
    return dollars(price)


def percent(rate: Decimal) -> str:
    return plain(rate * 100) + "%"


def day(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).date().isoformat()


def _text(value: str) -> str:
    """``value`` in Helvetica's range: accents kept where it has them, anything else ``?``."""
    try:
        value.encode(ENCODING)
        return value
    except UnicodeEncodeError:
        pass
    out = []
    for char in value:
        try:
            char.encode(ENCODING)
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode(ENCODING, errors="ignore").decode(ENCODING)
            out.append(base or "?")
    return "".join(out)


def _stamp(pdf: FPDF, status: str) -> None:
    """A large, pale, slanted word behind the content: DRAFT, PAID, VOID or UNCOLLECTIBLE."""
    word = STAMPS.get(status)
    if word is None:
        return
    pdf.set_font("Helvetica", "B", 72 if len(word) <= 5 else 44)
    pdf.set_text_color(*STAMP_COLOURS.get(word, (210, 160, 60)))
    with pdf.rotation(30, x=105, y=160):
        pdf.text(105 - pdf.get_string_width(word) / 2, 160, word)
    pdf.set_text_color(0, 0, 0)


def _header(pdf: FPDF, invoice: InvoiceDocument, issuer: Issuer) -> None:
    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(WIDTH / 2, 8, _text(issuer.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for line in issuer.address:
        pdf.cell(WIDTH / 2, 4.5, _text(line), new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(MARGIN + WIDTH / 2, top)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(WIDTH / 2, 8, "INVOICE", align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for label, value in (
        ("Invoice number", invoice.number),
        ("Period", f"{invoice.period.label} ({invoice.period.first_day.strftime('%B %Y')})"),
        ("Issued", day(invoice.finalized_at) if invoice.finalized_at else "not issued (draft)"),
        ("Due date", day(invoice.due_at)),
        ("Status", invoice.status),
    ):
        pdf.cell(WIDTH / 2, 5, _text(f"{label}: {value}"), align="R", new_x="LEFT", new_y="NEXT")
    pdf.set_xy(MARGIN, max(bottom, pdf.get_y()) + 8)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(WIDTH, 5, "Bill to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(WIDTH, 5, _text(invoice.customer_name), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(WIDTH, 5, _text(invoice.customer_email), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _lines(pdf: FPDF, lines: Sequence[DocumentLine]) -> None:
    from fpdf.fonts import FontFace

    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=COLUMNS,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD"),
        line_height=5,
        borders_layout="HORIZONTAL_LINES",
        width=WIDTH,
    ) as table:
        table.row(["Description", "Quantity", "Unit price", "Amount"])
        for line in lines:
            table.row(
                [
                    _text(line.description),
                    plain(line.quantity, grouped=True),
                    unit_price(line.unit_price),
                    money(line.amount),
                ]
            )
    pdf.ln(4)


def _totals(pdf: FPDF, invoice: InvoiceDocument) -> None:
    rows = [
        ("Subtotal", money(invoice.subtotal)),
        ("Discount", money(-invoice.discount)),
        (f"Tax ({percent(invoice.tax_rate)})", money(invoice.tax)),
        (f"Total ({invoice.currency})", money(invoice.total)),
    ]
    if invoice.status == "paid":
        rows.append(("Amount paid", money(invoice.amount_paid)))
    if invoice.status in ("finalized", "uncollectible"):
        rows.append(("Amount due", money(invoice.total - invoice.amount_paid)))
    for label, value in rows:
        bold = label.startswith("Total") or label == "Amount due"
        pdf.set_font("Helvetica", "B" if bold else "", 10)
        pdf.cell(WIDTH - COLUMNS[3] * 2, 6, "")
        pdf.cell(COLUMNS[3], 6, _text(label), align="R")
        pdf.cell(COLUMNS[3], 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)


def _footer(pdf: FPDF, invoice: InvoiceDocument) -> None:
    pdf.set_font("Helvetica", "", 9)
    pdf.set_text_color(*GREY)
    notes = {
        "draft": "This is a draft: amounts may still change until the invoice is issued.",
        "finalized": f"Payment is due by {day(invoice.due_at)} (UTC).",
        "paid": f"Paid on {day(invoice.paid_at)} (UTC). Thank you.",
        "void": f"This invoice was voided on {day(invoice.voided_at)} (UTC); nothing is owed.",
        "uncollectible": f"Payment was due by {day(invoice.due_at)} (UTC) and has not been received.",
    }
    pdf.multi_cell(WIDTH, 5, _text(notes.get(invoice.status, "")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
