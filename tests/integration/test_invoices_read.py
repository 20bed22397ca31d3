"""Reading invoices through the app role: RLS confines them to their tenant; API shapes are cents and strings."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.billing import service as billing
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.periods import Period
from chalicelib.invoices import service as invoices
from chalicelib.invoices.models import InvoicesQuery
from tests.billing_support import EARLY_START, after, fresh_period, ingest


@pytest.fixture
def billed(make_customer):
    """Two customers billed for three months of one private year (the last finalized)."""
    first = fresh_period(1)
    periods = [first, Period(first.year, 2), Period(first.year, 3)]
    a = make_customer("starter", billing_start_date=EARLY_START)
    b = make_customer("growth", billing_start_date=EARLY_START)
    ingest(a, periods[0], api_calls=150_000, compliance_scans=600)
    for period in periods[:2]:
        billing.run(period, finalize=False, now=after(period))
    billing.run(periods[2], finalize=True, now=after(periods[2]))
    return a, b, periods


def test_another_tenants_invoice_is_not_found(billed):
    a, b, _ = billed
    a_invoice = invoices.list_invoices(a, InvoicesQuery(limit=1)).items[0]
    assert invoices.get_invoice(a, a_invoice.id).id == a_invoice.id
    with pytest.raises(NotFound):
        invoices.get_invoice(b, a_invoice.id)
    with pytest.raises(NotFound):
        invoices.get_invoice(a, uuid.uuid4())
    b_ids = {item.id for item in invoices.list_invoices(b, InvoicesQuery(limit=100)).items}
    assert a_invoice.id not in b_ids and len(b_ids) == 3


def test_invoices_are_listed_newest_period_first_with_cursors_and_a_status_filter(billed):
    a, _, periods = billed
    seen, cursor = [], None
    while True:
        page = invoices.list_invoices(a, InvoicesQuery(limit=1, cursor=cursor))
        seen += [item.period for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [p.first_day for p in reversed(periods)]
    finalized = invoices.list_invoices(a, InvoicesQuery(status="finalized")).items
    assert [item.period for item in finalized] == [periods[2].first_day]
    drafts = invoices.list_invoices(a, InvoicesQuery(status="draft")).items
    assert len(drafts) == 2
    for bad in ("garbage", "WyJub3QtYS1kYXRlIiwieCJd"):
        with pytest.raises(BadRequest):
            invoices.list_invoices(a, InvoicesQuery(limit=1, cursor=bad))


def test_an_invoice_reads_as_cents_and_decimal_strings(billed):
    a, _, periods = billed
    page = invoices.list_invoices(a, InvoicesQuery(status="draft")).model_dump(mode="json")
    summary = next(item for item in page["items"] if item["period"] == periods[0].label)
    assert summary["total_cents"] == 243000 and summary["currency"] == "USD"
    assert summary["number"].startswith(f"INV-{periods[0].year}-") and summary["finalized_at"] is None
    detail = invoices.get_invoice(a, uuid.UUID(summary["id"])).model_dump(mode="json")
    assert (detail["subtotal_cents"], detail["discount_cents"], detail["tax_cents"], detail["total_cents"]) == (
        225000,
        0,
        18000,
        243000,
    )
    assert detail["lines"][0] == {
        "description": "Starter plan base fee",
        "metric": None,
        "quantity": "1",
        "unit_price": "2000",
        "amount_cents": 200000,
    }
    assert detail["lines"][1]["metric"] == "api_calls" and detail["lines"][1]["quantity"] == "50000"
    assert detail["lines"][1]["unit_price"] == "0.002" and detail["lines"][1]["amount_cents"] == 10000
    finalized = invoices.list_invoices(a, InvoicesQuery(limit=1, status="finalized")).model_dump(mode="json")
    finalized = finalized["items"][0]
    assert finalized["finalized_at"].endswith("Z") and finalized["due_at"].endswith("Z")
