"""``GET /invoices/upcoming``: the current period's invoice as if it ended now, priced like the billing run.

The one-source-of-truth test: computed at a period's last second, the
upcoming invoice equals (lines, subtotal, discount, tax, total) the invoice
the billing run creates for that period the day after.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from chalicelib.billing import repository as billing_repository
from chalicelib.billing import service as billing
from chalicelib.core import db
from chalicelib.core.context import TenantRole
from chalicelib.core.money import cents, plain
from chalicelib.core.periods import Period, utc_now
from chalicelib.invoices import upcoming
from chalicelib.invoices.models import UpcomingInvoiceResponse
from chalicelib.keys.service import issue_key
from tests.billing_support import EARLY_START, after, fresh_period, ingest, invoices_of, lines_of


def as_invoice(preview: UpcomingInvoiceResponse) -> dict:
    document = preview.model_dump(mode="json")
    return {key: document[key] for key in ("lines", "subtotal_cents", "discount_cents", "tax_cents", "total_cents")}


def stored(admin_conn, row) -> dict:
    lines = [
        {
            "description": line["description"],
            "metric": line["metric_code"],
            "quantity": plain(line["quantity"]),
            "unit_price": plain(line["unit_price"]),
            "amount_cents": cents(line["amount"]),
        }
        for line in lines_of(admin_conn, row["id"])
    ]
    return {
        "lines": lines,
        "subtotal_cents": cents(row["subtotal"]),
        "discount_cents": cents(row["discount"]),
        "tax_cents": cents(row["tax"]),
        "total_cents": cents(row["total"]),
    }


def test_at_the_periods_last_second_the_upcoming_invoice_is_the_invoice_the_run_creates(make_customer, admin_conn):
    period = fresh_period(month=2)
    customers = {
        "starter with overage": make_customer("starter", billing_start_date=EARLY_START),
        "growth with discount": make_customer("growth", billing_start_date=EARLY_START, tax_rate="0.0725"),
        "prorated": make_customer("starter", billing_start_date=period.first_day.replace(day=17).isoformat()),
        "tax exempt, no usage": make_customer("enterprise", billing_start_date=EARLY_START, tax_rate="0"),
    }
    ingest(customers["starter with overage"], period, api_calls=150_000, compliance_scans=600)
    ingest(customers["growth with discount"], period, api_calls="1234567.891", compliance_scans=5_001)
    ingest(customers["prorated"], period, api_calls=100_001)
    last_second = period.ends_at - timedelta(seconds=1)
    previews = {name: upcoming.upcoming_invoice(cid, as_of=last_second) for name, cid in customers.items()}

    billing.run(period, finalize=False, now=after(period))  # the first day after the period

    invoices = {row["customer_id"]: row for row in invoices_of(admin_conn, period, customers.values())}
    for name, cid in customers.items():
        assert as_invoice(previews[name]) == stored(admin_conn, invoices[cid]), name
        assert previews[name].period == period.first_day and previews[name].status == "draft"
    assert previews["growth with discount"].discount_cents > 0
    assert f"prorated: {period.days - 16} of {period.days} days" in previews["prorated"].lines[0].description


def test_the_route_shows_this_months_usage_and_a_forecast(client, new_customer):
    customer = new_customer("starter")  # billing starts today
    now = utc_now()
    body = {
        "events": [
            {"event_id": uuid.uuid4().hex, "metric": "api_calls", "quantity": 250_000, "timestamp": now.isoformat()}
        ]
    }
    assert client.http.post("/metrics", headers=customer.headers, body=json.dumps(body)).status_code == 200
    response = client.http.get("/invoices/upcoming", headers=customer.headers)
    assert response.status_code == 200, response.body
    document = json.loads(response.body)
    UpcomingInvoiceResponse.model_validate(document)
    assert "id" not in document and "number" not in document
    assert document["period"] in (Period.containing(now).label, Period.containing(utc_now()).label)
    assert document["status"] == "draft" and document["customer_id"] == str(customer.customer_id)
    [base, calls] = document["lines"]
    assert base["metric"] is None and calls["metric"] == "api_calls" and calls["quantity"] == "150000"
    assert document["total_cents"] == document["subtotal_cents"] - document["discount_cents"] + document["tax_cents"]
    assert document["forecast"]["total_cents"] >= document["total_cents"]
    assert "run rate" in document["forecast"]["method"]
    assert document["amount_paid_cents"] == 0 and document["paid_at"] is None


def test_a_developer_may_not_see_it(client, new_customer):
    customer = new_customer()
    with db.tenant_transaction(customer.customer_id, actor="test") as conn:
        key = issue_key(conn, customer_id=customer.customer_id, name="d", expires_at=None, role=TenantRole.DEVELOPER)
    auth = client.http.post(
        "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": key.key})
    )
    headers = {"Authorization": f"Bearer {json.loads(auth.body)['token']}"}
    assert client.http.get("/invoices/upcoming", headers=headers).status_code == 403


def test_a_customer_whose_billing_starts_next_month_has_no_upcoming_invoice(client, new_customer):
    start = Period.containing(utc_now()).next().first_day
    customer = new_customer(billing_start_date=start.isoformat())
    response = client.http.get("/invoices/upcoming", headers=customer.headers)
    assert response.status_code == 404 and start.isoformat() in json.loads(response.body)["Message"]


JUNE = Period(2026, 6)  # 30 days


@pytest.mark.parametrize(
    ("as_of", "billing_start", "used", "projected"),
    [
        # Halfway through the month: double.
        (datetime(2026, 6, 16, tzinfo=UTC), date(2026, 1, 1), D(100), D(200)),
        # Ten of thirty days: three times, to usage's scale.
        (datetime(2026, 6, 11, tzinfo=UTC), date(2026, 1, 1), D("0.000001"), D("0.000003")),
        # Billing started on the 21st: the rate is over the 5 days since then, not the 25 of the month.
        (datetime(2026, 6, 26, tzinfo=UTC), date(2026, 6, 21), D(50), D(100)),
        # In the first hours the rate is over a whole day, not minutes.
        (datetime(2026, 6, 1, 1, tzinfo=UTC), date(2026, 1, 1), D(10), D("309.583333")),
        # At the last moment, nothing more is projected: never below what was used.
        (JUNE.ends_at, date(2026, 1, 1), D("123.5"), D("123.5")),
        (datetime(2026, 6, 16, tzinfo=UTC), date(2026, 1, 1), D(0), D(0)),
    ],
)
def test_the_forecast_extends_the_run_rate_over_the_rest_of_the_period(as_of, billing_start, used, projected):
    result = upcoming.project_usage({"api_calls": used}, period=JUNE, billing_start=billing_start, as_of=as_of)
    assert result == {"api_calls": projected}


def test_it_reads_the_monthly_totals_not_the_events():
    """100,000 events in a month cost what one does: one row per metric of usage_monthly, never usage_events."""
    sql = billing_repository.USAGE_OF_TENANT
    assert "usage_monthly" in sql and "usage_events" not in sql
