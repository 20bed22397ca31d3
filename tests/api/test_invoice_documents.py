"""``GET /invoices/{id}/pdf``: the invoice as a PDF whose text (read back with pypdf) matches the invoice.

Number, period, due date, every line (description, quantity, unit price,
amount), discount, tax and total; DRAFT on a draft, PAID and VOID once it is;
the issuer from settings and the customer's billing details. The same invoice
gives the same bytes. Developers may not read invoices (403).
"""

from __future__ import annotations

import io
import itertools
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from chalicelib.core import db
from chalicelib.core.context import TenantRole
from chalicelib.core.periods import Period
from chalicelib.core.settings import get_settings
from chalicelib.invoices import pdf
from chalicelib.keys.service import issue_key
from tests.api.test_billing_routes import get, ingest, run
from tests.billing_support import EARLY_START, fresh_period

_YEAR = fresh_period().year
_months = itertools.count(1)
ACCEPT_PDF = {"Accept": "application/pdf"}


def fetch(client, headers, invoice_id, accept=ACCEPT_PDF):
    response = client.http.get(f"/invoices/{invoice_id}/pdf", headers={**headers, **accept})
    return response.status_code, {name.lower(): value for name, value in response.headers.items()}, response.body


def text_of(document: bytes) -> str:
    """The PDF's text with every run of whitespace made one space (a wrapped description reads the same)."""
    reader = PdfReader(io.BytesIO(document))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def invoice(client, operator_headers, new_customer):
    """A growth customer's invoice (discount, two usage lines) of a month of its own: (customer, invoice JSON)."""

    def create(finalize: bool):
        period = Period(_YEAR, next(_months))
        customer = new_customer("growth", billing_start_date=EARLY_START, name="Acme Widgets Ltd")
        assert ingest(client, customer, period, api_calls=1_234_567, compliance_scans=5_500)[0] == 200
        assert run(client, operator_headers, period, finalize=finalize)[0] == 200
        [summary] = [
            item for item in get(client, customer.headers, "/invoices")[1]["items"] if item["period"] == period.label
        ]
        return customer, get(client, customer.headers, f"/invoices/{summary['id']}")[1]

    return create


def dollars(cents: int) -> str:
    return f"${Decimal(cents).scaleb(-2):,.2f}"


def test_a_draft_pdf_carries_the_invoice_and_is_marked_draft(client, invoice):
    customer, draft = invoice(finalize=False)
    status, headers, body = fetch(client, customer.headers, draft["id"])
    assert status == 200, body
    assert headers["content-type"] == "application/pdf" and body.startswith(b"%PDF")
    assert draft["number"] in headers["content-disposition"]
    text = text_of(body)
    settings = get_settings()
    for expected in (
        "DRAFT",
        draft["number"],
        draft["period"],
        settings.platform_name,
        *settings.platform_address,
        "Acme Widgets Ltd",
        customer.email,
        f"Subtotal {dollars(draft['subtotal_cents'])}",
        f"Discount -{dollars(draft['discount_cents'])}",
        f"Tax (8%) {dollars(draft['tax_cents'])}",
        f"Total (USD) {dollars(draft['total_cents'])}",
    ):
        assert expected in text, (expected, text)
    assert draft["discount_cents"] > 0 and len(draft["lines"]) == 3
    for line in draft["lines"]:
        quantity = f"{Decimal(line['quantity']):,f}"
        assert f"{line['description']} {quantity}" in text, (line, text)
        assert dollars(line["amount_cents"]) in text
    assert "$0.0015" in text and "$1.00" in text  # the usage lines' unit prices, exactly


def test_a_finalized_pdf_has_its_due_date_and_no_draft_mark_then_paid_and_void(client, invoice, operator_headers):
    customer, finalized = invoice(finalize=True)
    text = text_of(fetch(client, customer.headers, finalized["id"])[2])
    assert "DRAFT" not in text and finalized["number"] in text
    due = finalized["due_at"][:10]
    assert f"Due date: {due}" in text and f"Payment is due by {due}" in text
    assert f"Amount due {dollars(finalized['total_cents'])}" in text
    paid = client.http.post(
        f"/admin/invoices/{finalized['id']}/mark-paid", headers=operator_headers, body=json.dumps({"reference": "t-1"})
    )
    assert paid.status_code == 200
    text = text_of(fetch(client, customer.headers, finalized["id"])[2])
    assert "PAID" in text and f"Amount paid {dollars(finalized['total_cents'])}" in text

    other, second = invoice(finalize=True)
    voided = client.http.post(
        f"/admin/invoices/{second['id']}/void", headers=operator_headers, body=json.dumps({"reason": "duplicate"})
    )
    assert voided.status_code == 200
    text = text_of(fetch(client, other.headers, second["id"])[2])
    assert "VOID" in text and "nothing is owed" in text


def test_the_same_invoice_gives_the_same_bytes(client, invoice):
    customer, finalized = invoice(finalize=True)
    first, second = (fetch(client, customer.headers, finalized["id"])[2] for _ in range(2))
    assert first == second


def test_a_developer_may_not_read_it_another_tenant_finds_nothing_and_json_only_clients_get_400(
    client, invoice, new_customer
):
    customer, draft = invoice(finalize=False)
    with db.tenant_transaction(customer.customer_id, actor="test") as conn:
        key = issue_key(conn, customer_id=customer.customer_id, name="dev", expires_at=None, role=TenantRole.DEVELOPER)
    auth = client.http.post(
        "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": key.key})
    )
    developer = {"Authorization": f"Bearer {json.loads(auth.body)['token']}"}
    assert fetch(client, developer, draft["id"])[0] == 403
    assert fetch(client, new_customer().headers, draft["id"])[0] == 404
    assert fetch(client, customer.headers, uuid.uuid4())[0] == 404
    assert fetch(client, customer.headers, "not-a-uuid")[0] == 404
    # Chalice refuses a binary answer to a client that only accepts JSON: a clear 400, not a garbled body.
    assert fetch(client, customer.headers, draft["id"], accept={"Accept": "application/json"})[0] == 400


def document(status: str, **changes) -> pdf.InvoiceDocument:
    values = {
        "number": "INV-2026-000042",
        "period": Period(2026, 2),
        "status": status,
        "currency": "USD",
        "customer_name": "Łódź Ünïcode 株式会社 “Quotes”",
        "customer_email": "billing@example.test",
        "tax_rate": Decimal("0.0825"),
        "subtotal": Decimal("1935.49"),
        "discount": Decimal("0.00"),
        "tax": Decimal("159.68"),
        "total": Decimal("2095.17"),
        "amount_paid": Decimal(0),
        "lines": (
            pdf.DocumentLine("Starter plan base fee (prorated)", Decimal(1), Decimal("1935.49"), Decimal("1935.49")),
        ),
        "created_at": datetime(2026, 3, 1, 2, 0, tzinfo=UTC),
        "finalized_at": None,
        "due_at": None,
        "paid_at": None,
        "voided_at": None,
    }
    return pdf.InvoiceDocument(**(values | changes))


@pytest.mark.parametrize("status", ["draft", "finalized", "paid", "void", "uncollectible"])
def test_the_template_renders_every_status_deterministically_whatever_the_name(status):
    issuer = pdf.Issuer("Example Platform Inc.", ("1 Example Street", "Springfield"))
    moment = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    invoice = document(status, finalized_at=None if status == "draft" else moment, due_at=moment, paid_at=moment)
    first = pdf.render(invoice, issuer)
    assert first == pdf.render(invoice, issuer)
    text = text_of(first)
    # Outside Helvetica's range a character reads "?" (Ł, the kanji) or its bare letter (ź); its own are kept.
    assert "?ódz Ünïcode ???? “Quotes”" in text, text
    assert "Tax (8.25%) $159.68" in text and "2026-02 (February 2026)" in text
    assert ("DRAFT" in text) == (status == "draft")


def test_money_is_formatted_exactly_from_decimal():
    assert pdf.money(Decimal("1234567890.05")) == "$1,234,567,890.05"
    assert pdf.money(Decimal("-415.00")) == "-$415.00"
    assert pdf.unit_price(Decimal("0.001500")) == "$0.0015"
    assert pdf.unit_price(Decimal("7500.000000")) == "$7,500.00"
    assert pdf.unit_price(Decimal("1.5")) == "$1.50"
    assert pdf.percent(Decimal("0.0800")) == "8%"


def test_the_invoice_email_links_to_the_invoice_and_its_pdf():
    from chalicelib.billing.invoice_email import render_invoice_email

    invoice_id = uuid.uuid4()
    rendered = render_invoice_email(
        customer_name="Acme",
        number="INV-2026-000001",
        period=Period(2026, 10),
        lines=(),
        subtotal=Decimal("1.00"),
        discount=Decimal("0.00"),
        tax=Decimal("0.08"),
        total=Decimal("1.08"),
        tax_rate=Decimal("0.08"),
        due_at=datetime(2026, 12, 1, tzinfo=UTC),
        invoice_id=invoice_id,
    )
    url = f"{get_settings().portal_url}/invoices/{invoice_id}"
    assert url in rendered.text_body and f"GET /invoices/{invoice_id}/pdf" in rendered.text_body
    assert f'href="{url}"' in rendered.html_body
