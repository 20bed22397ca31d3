"""``POST /admin/billing-runs``, ``GET /invoices``, ``GET /invoices/{id}`` and ``GET /notifications`` end to end."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from chalicelib.billing import service as billing
from chalicelib.billing.models import BillingRunResponse
from chalicelib.invoices.models import InvoicePageResponse, InvoiceResponse
from chalicelib.notifications.models import NotificationPageResponse
from tests.billing_support import EARLY_START, fresh_period


def run(client, headers, period, finalize=False):
    response = client.http.post(
        "/admin/billing-runs",
        headers=headers,
        body=json.dumps({"period": period.label if hasattr(period, "label") else period, "finalize": finalize}),
    )
    return response.status_code, json.loads(response.body)


def get(client, headers, path):
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body)


def ingest(client, customer, period, **quantities):
    stamp = datetime(period.year, period.month, 10, tzinfo=UTC).isoformat()
    body = {
        "events": [
            {"event_id": uuid.uuid4().hex, "metric": metric, "quantity": quantity, "timestamp": stamp}
            for metric, quantity in quantities.items()
        ]
    }
    response = client.http.post("/metrics", headers=customer.headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def test_an_operator_bills_a_period_and_the_customer_reads_its_invoice(client, operator_headers, new_customer):
    period = fresh_period()
    customer = new_customer("starter", billing_start_date=EARLY_START)
    assert ingest(client, customer, period, api_calls=150_000, compliance_scans=600)[0] == 200

    status, result = run(client, operator_headers, period)
    assert status == 200 and result["period"] == period.label
    BillingRunResponse.model_validate(result)
    assert result["invoices_created"] >= 1 and result["invoices_existing"] == 0
    assert isinstance(result["total_cents"], int)

    status, page = get(client, customer.headers, "/invoices")
    assert status == 200 and page["next_cursor"] is None
    InvoicePageResponse.model_validate(page)
    [summary] = [item for item in page["items"] if item["period"] == period.label]
    assert summary["status"] == "draft" and summary["total_cents"] == 243000
    assert summary["customer_id"] == str(customer.customer_id) and summary["currency"] == "USD"
    status, invoice = get(client, customer.headers, f"/invoices/{summary['id']}")
    assert status == 200
    InvoiceResponse.model_validate(invoice)
    assert (invoice["subtotal_cents"], invoice["discount_cents"], invoice["tax_cents"], invoice["total_cents"]) == (
        225000,
        0,
        18000,
        243000,
    )
    assert [
        (line["metric"], line["quantity"], line["unit_price"], line["amount_cents"]) for line in invoice["lines"]
    ] == [
        (None, "1", "2000", 200000),
        ("api_calls", "50000", "0.002", 10000),
        ("compliance_scans", "100", "1.5", 15000),
    ]

    again = run(client, operator_headers, period)[1]
    assert again["invoices_created"] == 0 and again["total_cents"] == result["total_cents"]


def test_finalize_freezes_queues_the_email_and_refuses_late_usage(client, operator_headers, new_customer):
    period = fresh_period()
    customer = new_customer("growth", billing_start_date=EARLY_START)
    assert run(client, operator_headers, period, finalize=True)[0] == 200

    status, page = get(client, customer.headers, "/invoices?status=finalized")
    [invoice] = [item for item in page["items"] if item["period"] == period.label]
    assert invoice["finalized_at"] and invoice["due_at"] and invoice["number"].startswith(f"INV-{period.year}-")
    status, body = ingest(client, customer, period, api_calls=1)
    assert status == 422 and "events[0]" in body["Message"] and "finalized" in body["Message"]

    status, notes = get(client, customer.headers, "/notifications")
    assert status == 200
    NotificationPageResponse.model_validate(notes)
    [note] = [n for n in notes["items"] if n["related_id"] == invoice["id"]]
    assert (note["channel"], note["template"], note["status"], note["recipient"]) == (
        "email",
        "invoice",
        "queued",
        customer.email,
    )
    assert invoice["number"] in note["subject"] and note["sent_at"] is None and note["error"] is None

    billing.daily()  # delivers pending e-mails
    [note] = [
        n for n in get(client, customer.headers, "/notifications")[1]["items"] if n["related_id"] == invoice["id"]
    ]
    assert note["status"] == "sent" and note["sent_at"].endswith("Z")


def test_tenant_b_cannot_read_tenant_as_invoice(client, operator_headers, new_customer):
    period = fresh_period()
    a = new_customer(billing_start_date=EARLY_START)
    b = new_customer(billing_start_date=EARLY_START)
    run(client, operator_headers, period)
    [a_invoice] = [i for i in get(client, a.headers, "/invoices")[1]["items"] if i["period"] == period.label]
    status, body = get(client, b.headers, f"/invoices/{a_invoice['id']}")
    assert status == 404 and body["Code"] == "NotFoundError"
    assert a_invoice["id"] not in {i["id"] for i in get(client, b.headers, "/invoices?limit=100")[1]["items"]}
    assert get(client, a.headers, f"/invoices/{a_invoice['id']}")[0] == 200


def test_invoices_paginate_newest_period_first(client, operator_headers, new_customer):
    first = fresh_period(1)
    customer = new_customer(billing_start_date=EARLY_START)
    months = [first, first.next(), first.next().next()]
    for period in months:
        run(client, operator_headers, period)
    seen, cursor = [], None
    while True:
        status, page = get(client, customer.headers, "/invoices?limit=1" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen += [item["period"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert seen == [p.label for p in reversed(months)]


@pytest.mark.parametrize(
    "body",
    [
        '{"period": "2026-13"}',
        '{"period": "garbage", "finalize": false}',
        '{"period": "2999-01"}',
        '{"period": ""}',
    ],
)
def test_bad_or_unfinished_periods_are_422(client, operator_headers, body):
    response = client.http.post("/admin/billing-runs", headers=operator_headers, body=body)
    assert response.status_code == 422, response.body


def test_the_current_month_has_not_ended(client, operator_headers):
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert run(client, operator_headers, this_month)[0] == 422


@pytest.mark.parametrize(
    "body",
    [
        "",
        "nope",
        "[]",
        "{}",
        '{"finalize": true}',
        '{"period": 202610}',
        '{"period": "2019-01", "finalize": "yes"}',
        '{"period": "2019-01", "extra": 1}',
        '{"period": null}',
    ],
)
def test_garbage_billing_run_bodies_are_400(client, operator_headers, body):
    response = client.http.post("/admin/billing-runs", headers=operator_headers, body=body)
    assert response.status_code == 400, response.body


def test_only_operators_run_billing(client, new_customer):
    customer = new_customer()
    body = json.dumps({"period": "2019-01"})
    assert (
        client.http.post("/admin/billing-runs", body=body, headers={"Content-Type": "application/json"}).status_code
        == 401
    )
    assert client.http.post("/admin/billing-runs", headers=customer.headers, body=body).status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/invoices/not-a-uuid",
        "/invoices/" + str(uuid.uuid4()),
        "/invoices/%00",
        "/invoices/" + "a" * 300,
    ],
)
def test_unknown_or_malformed_invoice_ids_are_404(client, new_customer, path):
    customer = new_customer()
    assert client.http.get(path, headers=customer.headers).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "?status=paid-ish",
        "?limit=0",
        "?limit=101",
        "?limit=x",
        "?cursor=garbage",
        "?cursor=W10",
        "?bogus=1",
    ],
)
def test_bad_invoice_list_queries_are_400(client, new_customer, query):
    customer = new_customer()
    assert client.http.get(f"/invoices{query}", headers=customer.headers).status_code == 400


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?cursor=garbage", "?cursor=WyJ4IiwieSJd", "?x=1"])
def test_bad_notification_list_queries_are_400(client, new_customer, query):
    customer = new_customer()
    assert client.http.get(f"/notifications{query}", headers=customer.headers).status_code == 400


def test_invoices_and_notifications_need_a_customer_token(client, operator_headers):
    for path in ("/invoices", f"/invoices/{uuid.uuid4()}", "/notifications"):
        assert client.http.get(path).status_code == 401
        assert client.http.get(path, headers=operator_headers).status_code == 403


def test_an_empty_status_filter_means_any_status(client, new_customer):
    customer = new_customer()
    assert get(client, customer.headers, "/invoices?status=")[0] == 200
