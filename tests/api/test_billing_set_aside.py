"""Issue 11, item 1: one customer's usage can no longer stop billing for every tenant.

Both halves: quantities are bounded per event (10^9) and per customer, metric
and month (10^10) so the catalog's largest invoice fits ``numeric(14, 2)``;
and a customer whose invoice still cannot be priced (usage stored before the
bounds, or a catalog price raised) is set aside, reported in the run's result,
audited and counted in a metric, while every other customer is invoiced.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import psycopg

from chalicelib.billing.models import BillingRunResponse
from chalicelib.billing.pricing import MAX_AMOUNT, price_invoice
from chalicelib.catalog.prices import MetricRate, Plan
from chalicelib.core.periods import Period
from chalicelib.metering.service import MAX_MONTHLY_QUANTITY, MAX_QUANTITY
from tests.billing_support import EARLY_START, fresh_period, invoices_of


def _post_metrics(client, headers, events):
    response = client.http.post("/metrics", headers=headers, body=json.dumps({"events": events}))
    return response.status_code, json.loads(response.body)


def _event(metric, quantity, period):
    stamp = datetime(period.year, period.month, 10, tzinfo=UTC).isoformat()
    return {"event_id": uuid.uuid4().hex, "metric": metric, "quantity": quantity, "timestamp": stamp}


def _run(client, headers, period):
    response = client.http.post(
        "/admin/billing-runs", headers=headers, body=json.dumps({"period": period.label, "finalize": False})
    )
    return response.status_code, json.loads(response.body)


def test_i11_1_the_issues_quantity_is_refused_per_event(client, new_customer):
    customer = new_customer("starter", billing_start_date=EARLY_START)
    period = fresh_period()
    status, body = _post_metrics(client, customer.headers, [_event("compliance_scans", "99999999999999", period)])
    assert status == 422 and "events[0]" in body["Message"], body
    status, body = _post_metrics(client, customer.headers, [_event("compliance_scans", 10**9, period)])
    assert status == 422 and "below 10^9" in body["Message"], body
    assert _post_metrics(client, customer.headers, [_event("compliance_scans", "999999999.999999", period)])[0] == 200


def test_i11_1_a_months_total_is_bounded_and_nothing_of_the_batch_is_kept(client, new_customer, admin_conn):
    customer = new_customer("starter", billing_start_date=EARLY_START)
    period = fresh_period()
    ten = [_event("api_calls", 999_999_999, period) for _ in range(10)]
    assert _post_metrics(client, customer.headers, ten) == (200, {"accepted": 10, "duplicates": 0})
    # 10 x 999,999,999 = 9,999,999,990: eleven more units would pass 10^10.
    status, body = _post_metrics(
        client, customer.headers, [_event("compliance_scans", 1, period), _event("api_calls", 11, period)]
    )
    assert status == 422 and "10^10" in body["Message"], body
    assert _post_metrics(client, customer.headers, [_event("api_calls", 10, period)])[0] == 200
    stored = admin_conn.execute(
        "SELECT metric_code, quantity FROM usage_monthly WHERE customer_id = %s ORDER BY metric_code",
        (customer.customer_id,),
    ).fetchall()
    assert [(r["metric_code"], r["quantity"]) for r in stored] == [("api_calls", MAX_MONTHLY_QUANTITY)]


def test_i11_1_the_largest_invoice_the_bounds_allow_fits_the_invoice_columns(admin_conn):
    """Every tier of the catalog, every metric at its monthly bound, the highest tax rate: still storable."""
    period = Period(2026, 1)
    tiers = admin_conn.execute("SELECT code, name, base_fee FROM tiers").fetchall()
    assert tiers
    for tier in tiers:
        rates = tuple(
            MetricRate(r["metric_code"], r["metric_code"], r["included_units"], r["unit_price"])
            for r in admin_conn.execute("SELECT * FROM tier_prices WHERE tier_code = %s", (tier["code"],))
        )
        plan = Plan(tier["code"], tier["name"], tier["base_fee"], rates)
        usage = {rate.metric_code: MAX_MONTHLY_QUANTITY for rate in rates}
        priced = price_invoice(plan, usage, tax_rate=Decimal("0.9999"), period=period, billing_start=period.first_day)
        # A margin of 10x: a catalog price may rise tenfold before the bound must move.
        assert priced.total * 10 <= MAX_AMOUNT, (tier["code"], priced.total)
    assert MAX_QUANTITY <= MAX_MONTHLY_QUANTITY


def test_i11_1_an_unpriceable_customer_is_set_aside_and_everyone_else_is_billed(
    client, operator_headers, new_customer, admin_url, admin_conn, monkeypatch, capsys
):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    period = fresh_period()
    honest = new_customer("starter", billing_start_date=EARLY_START)
    attacker = new_customer("starter", billing_start_date=EARLY_START)
    assert _post_metrics(client, honest.headers, [_event("api_calls", 150_000, period)])[0] == 200
    # Usage stored before the bounds existed (the issue's repro): written behind the API's back.
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)"
            " VALUES (%s, 'x', 'compliance_scans', 99999999999999, %s, %s)",
            (attacker.customer_id, datetime(period.year, period.month, 10, tzinfo=UTC), period.first_day),
        )

    status, body = _run(client, operator_headers, period)

    assert status == 200, body
    BillingRunResponse.model_validate(body)
    assert body["customers_set_aside"] == 1
    assert body["set_aside"][0]["customer_id"] == str(attacker.customer_id)
    assert "exceeds" in body["set_aside"][0]["reason"]
    invoiced = {row["customer_id"]: row for row in invoices_of(admin_conn, period)}
    assert honest.customer_id in invoiced and attacker.customer_id not in invoiced
    assert invoiced[honest.customer_id]["total"] == Decimal("2268.00")  # (2000 + 50,000 x 0.002) + 8 % tax
    audit = admin_conn.execute(
        "SELECT detail FROM audit_events WHERE customer_id IS NULL AND action = 'billing.customer_set_aside'"
        " AND target_id = %s",
        (str(attacker.customer_id),),
    ).fetchall()
    assert [row["detail"]["run_id"] for row in audit] == [body["run_id"]]
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "BillingCustomersSetAside" in line
    ]
    assert (
        emf
        and emf[-1]["BillingCustomersSetAside"]
        in (
            1,
            [
                1,
            ],
        )
        and emf[-1]["service"] == "saas-api"
    )

    # A rerun is just as safe: the honest invoice is kept, the attacker is set aside again.
    status, again = _run(client, operator_headers, period)
    assert status == 200 and again["invoices_created"] == 0 and again["customers_set_aside"] == 1
