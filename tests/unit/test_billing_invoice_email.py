"""The invoice e-mail renders the period, every line, the totals and the due date, escaped in HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from chalicelib.billing.invoice_email import render_invoice_email
from chalicelib.billing.pricing import Line
from chalicelib.core.periods import Period

LINES = (
    Line("Growth plan base fee", None, D(1), D("7500.00"), D("7500.00")),
    Line("API calls beyond the 1,000,000 included (1,200,000 used)", "api_calls", D(200000), D("0.0015"), D("300.00")),
)


def render(name="Acme Inc."):
    return render_invoice_email(
        customer_name=name,
        number="INV-2026-000042",
        period=Period(2026, 10),
        lines=LINES,
        subtotal=D("7800.00"),
        discount=D("390.00"),
        tax=D("592.80"),
        total=D("8002.80"),
        tax_rate=D("0.0800"),
        due_at=datetime(2026, 12, 5, 2, tzinfo=UTC),
    )


def test_both_bodies_carry_period_lines_totals_and_due_date():
    email = render()
    assert email.subject == "Invoice INV-2026-000042 for October 2026: $8,002.80 due 2026-12-05"
    for body in (email.text_body, email.html_body):
        for expected in (
            "INV-2026-000042",
            "October 2026",
            "2026-10",
            "Growth plan base fee",
            "$7,500.00",
            "200,000",
            "0.0015",
            "$300.00",
            "$7,800.00",
            "$390.00",
            "Tax (8%)",
            "$592.80",
            "$8,002.80",
            "2026-12-05",
            "Acme Inc.",
        ):
            assert expected in body, expected


def test_html_escapes_what_customers_control():
    email = render(name='<script>alert("x")</script>')
    assert "<script>" not in email.html_body and "&lt;script&gt;" in email.html_body
    assert '<script>alert("x")</script>' in email.text_body
