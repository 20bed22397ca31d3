"""The billing run announces its invoices (``invoice.created``, ``invoice.finalized``) to subscribed endpoints."""

from __future__ import annotations

import json

import pytest
import standardwebhooks

from tests.billing_support import EARLY_START, fresh_period, ingest
from tests.webhook_receiver import start_receiver


@pytest.fixture(scope="module")
def receiver():
    receiver, server, thread = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_finalizing_run_sends_each_invoice_created_and_finalized(
    client, operator_headers, new_customer, receiver, admin_conn
):
    period = fresh_period()
    subscribed = new_customer("starter", billing_start_date=EARLY_START)
    unsubscribed = new_customer("starter", billing_start_date=EARLY_START)
    url = receiver.url("ok")
    body = {"url": url, "events": ["invoice.created", "invoice.finalized"]}
    created = client.http.post("/webhook-endpoints", headers=subscribed.headers, body=json.dumps(body))
    assert created.status_code == 201, created.body
    secret = json.loads(created.body)["secret"]
    for customer in (subscribed, unsubscribed):
        ingest(customer.customer_id, period, api_calls=150_000)

    run = client.http.post(
        "/admin/billing-runs", headers=operator_headers, body=json.dumps({"period": period.label, "finalize": True})
    )
    assert run.status_code == 200, run.body

    documents = [standardwebhooks.Webhook(secret).verify(r.body, r.headers) for r in receiver.wait_for(url, 2)]
    assert sorted(d["type"] for d in documents) == ["invoice.created", "invoice.finalized"]
    finalized = next(d for d in documents if d["type"] == "invoice.finalized")
    assert finalized["customer_id"] == str(subscribed.customer_id)
    invoice = json.loads(client.http.get(f"/invoices/{finalized['data']['id']}", headers=subscribed.headers).body)
    assert finalized["data"]["number"] == invoice["number"] and finalized["data"]["period"] == period.label
    assert finalized["data"]["total_cents"] == invoice["total_cents"] and finalized["data"]["status"] == "finalized"
    assert finalized["data"]["due_at"] == invoice["due_at"]
    # A customer with no endpoint has no event stored at all.
    stored = admin_conn.execute(
        "SELECT count(*) AS n FROM webhook_events WHERE customer_id = %s", (unsubscribed.customer_id,)
    ).fetchone()
    assert stored["n"] == 0
