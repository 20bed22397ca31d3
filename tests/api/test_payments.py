"""Payments (issue 14, part B) against the session's localstripe: cards, charging at finalization, dunning.

Every test bills its own period (``fresh_period``) for customers that start in
1970. A run bills every customer of the database, so other tests' card holders
may be charged for these periods too: assertions look at this test's own
invoices and PaymentIntents only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import stripe

from chalicelib.core.contract import (
    LOCAL_STRIPE_API_KEY,
    LOCAL_STRIPE_PUBLISHABLE_KEY,
    LOCAL_STRIPE_WEBHOOK_SECRET,
    Env,
)
from chalicelib.core.settings import reset_settings
from chalicelib.payments import charges, dunning, stripe_client
from chalicelib.payments.outcomes import MAX_ATTEMPTS, RETRY_DELAYS, next_attempt_at
from devstack.postgres import free_port
from tests.billing_support import EARLY_START, after, fresh_period, ingest

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"


@pytest.fixture(scope="module")
def sdk(stack) -> stripe.StripeClient:
    """The test's own view of localstripe (as a card form or the dashboard would see it)."""
    return stripe.StripeClient(LOCAL_STRIPE_API_KEY, base_addresses={"api": stack.env[Env.STRIPE_API_BASE]})


def card(sdk: stripe.StripeClient, number: str = VISA, exp_year: int = 2031) -> str:
    """A card payment method, unattached: what Stripe.js hands the portal."""
    method = sdk.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 8, "exp_year": exp_year, "cvc": "123"}}
    )
    return method.id


def intents_of(sdk: stripe.StripeClient, stripe_customer_id: str) -> list:
    found = sdk.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    return [intent for intent in found if intent.customer == stripe_customer_id]


def post(client, headers, path, body=None):
    response = client.http.post(path, headers=headers, body=json.dumps(body) if body is not None else "")
    return response.status_code, json.loads(response.body) if response.body else None, response.headers


def get(client, headers, path):
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body) if response.body else None


def customer_with_usage(new_customer, period, **usage):
    customer = new_customer("starter", billing_start_date=EARLY_START, tax_rate="0.0825")
    ingest(customer.customer_id, period, **(usage or {"api_calls": 123_457}))
    return customer


def finalize(client, operator_headers, period):
    status, body, _ = post(client, operator_headers, "/admin/billing-runs", {"period": period.label, "finalize": True})
    assert status == 200, body
    return body


def invoice_of(client, customer, period) -> dict:
    status, page = get(client, customer.headers, "/invoices")
    assert status == 200, page
    [summary] = [item for item in page["items"] if item["period"] == period.label]
    return summary


def attempts_of(admin_conn, invoice_id) -> list[dict]:
    return admin_conn.execute(
        "SELECT * FROM payment_attempts WHERE invoice_id = %s ORDER BY attempt", (invoice_id,)
    ).fetchall()


def stripe_customer_of(admin_conn, customer_id) -> str:
    row = admin_conn.execute(
        "SELECT stripe_customer_id FROM payment_customers WHERE customer_id = %s", (customer_id,)
    ).fetchone()
    return row["stripe_customer_id"]


def next_attempt(admin_conn, invoice_id):
    return admin_conn.execute("SELECT next_payment_attempt_at FROM invoices WHERE id = %s", (invoice_id,)).fetchone()[
        "next_payment_attempt_at"
    ]


# ---------------------------------------------------------------- the card


def test_a_setup_intent_gives_a_card_form_what_it_needs_and_one_stripe_customer(client, new_customer, admin_conn, sdk):
    customer = new_customer()
    status, first, _ = post(client, customer.headers, "/billing/setup-intent")
    assert status == 200, first
    assert first["publishable_key"] == LOCAL_STRIPE_PUBLISHABLE_KEY
    assert first["client_secret"].startswith("seti_")
    status, second, _ = post(client, customer.headers, "/billing/setup-intent")
    assert status == 200 and second["client_secret"] != first["client_secret"]
    rows = admin_conn.execute(
        "SELECT stripe_customer_id FROM payment_customers WHERE customer_id = %s", (customer.customer_id,)
    ).fetchall()
    assert len(rows) == 1  # created on first need, then reused
    stripe_customer = sdk.v1.customers.retrieve(rows[0]["stripe_customer_id"])
    assert stripe_customer.metadata["customer_id"] == str(customer.customer_id)
    actions = [
        r["action"]
        for r in admin_conn.execute(
            "SELECT action FROM audit_events WHERE customer_id = %s", (customer.customer_id,)
        ).fetchall()
    ]
    assert actions.count("payment_customer.created") == 1


def test_without_a_publishable_key_a_setup_intent_is_a_503(client, new_customer, monkeypatch):
    customer = new_customer()
    monkeypatch.setenv(Env.STRIPE_PUBLISHABLE_KEY, "")  # cdk.json's value until someone sets it
    reset_settings()
    try:
        status, body, headers = post(client, customer.headers, "/billing/setup-intent")
        assert status == 503 and headers["Retry-After"], body
    finally:
        monkeypatch.undo()
        reset_settings()


def test_a_card_becomes_the_default_and_reads_back(client, new_customer, admin_conn, sdk):
    customer = new_customer()
    assert get(client, customer.headers, "/billing/payment-method")[0] == 404
    method = card(sdk, exp_year=2032)
    status, body, _ = post(client, customer.headers, "/billing/payment-method", {"payment_method_id": method})
    assert status == 200, body
    assert body == {"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2032}
    assert get(client, customer.headers, "/billing/payment-method") == (200, body)
    stripe_customer = sdk.v1.customers.retrieve(stripe_customer_of(admin_conn, customer.customer_id))
    assert stripe_customer.invoice_settings.default_payment_method == method
    assert sdk.v1.payment_methods.retrieve(method).customer == stripe_customer.id
    audited = admin_conn.execute(
        "SELECT detail FROM audit_events WHERE customer_id = %s AND action = 'payment_method.attached'",
        (customer.customer_id,),
    ).fetchall()
    assert [row["detail"]["last4"] for row in audited] == ["4242"]


@pytest.mark.parametrize("payment_method_id", ["pm_doesnotexist000", "pm_card_visa_chargeDeclined"])
def test_an_unknown_or_refused_payment_method_is_422(client, new_customer, payment_method_id):
    customer = new_customer()
    status, body, _ = post(
        client, customer.headers, "/billing/payment-method", {"payment_method_id": payment_method_id}
    )
    assert status == 422, body
    assert get(client, customer.headers, "/billing/payment-method")[0] == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"payment_method_id": ""}, {"payment_method_id": "card_123"}, {"payment_method_id": "pm_a b"}, {"x": 1}],
)
def test_a_malformed_payment_method_body_is_400(client, new_customer, body):
    customer = new_customer()
    assert post(client, customer.headers, "/billing/payment-method", body)[0] == 400


def test_another_customers_card_cannot_be_taken(client, new_customer, sdk):
    owner, thief = new_customer(), new_customer()
    method = card(sdk)
    assert post(client, owner.headers, "/billing/payment-method", {"payment_method_id": method})[0] == 200
    status, body, _ = post(client, thief.headers, "/billing/payment-method", {"payment_method_id": method})
    assert status == 422 and "another customer" in body["Message"]


# ---------------------------------------------------------------- charging at finalization


def test_a_finalized_invoice_is_charged_its_exact_total_once(client, operator_headers, new_customer, admin_conn, sdk):
    period = fresh_period()
    customer = customer_with_usage(new_customer, period, api_calls=123_457, compliance_scans=7)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200

    finalize(client, operator_headers, period)
    invoice = invoice_of(client, customer, period)
    assert invoice["status"] == "paid" and invoice["payment_status"] == "succeeded"
    assert invoice["amount_paid_cents"] == invoice["total_cents"] > 0
    assert invoice["paid_at"] and invoice["next_payment_attempt_at"] is None

    [intent] = intents_of(sdk, stripe_customer_of(admin_conn, customer.customer_id))
    assert intent.amount == invoice["total_cents"] and intent.currency == "usd" and intent.status == "succeeded"
    assert intent.metadata["invoice_id"] == invoice["id"] and intent.metadata["attempt"] == "1"
    [attempt] = attempts_of(admin_conn, invoice["id"])
    assert (attempt["status"], attempt["stripe_payment_intent_id"]) == ("succeeded", intent.id)

    # Charging again (the run again, the job, the charge itself) charges nothing more.
    finalize(client, operator_headers, period)
    dunning.run(after(period, days=40))
    assert charges.charge_invoice(invoice["id"], as_of=after(period), actor="test") == "skipped"
    assert len(intents_of(sdk, intent.customer)) == 1
    assert len(attempts_of(admin_conn, invoice["id"])) == 1
    paid = admin_conn.execute(
        "SELECT count(*) AS n FROM audit_events WHERE action = 'invoice.paid' AND target_id = %s", (invoice["id"],)
    ).fetchone()
    assert paid["n"] == 1


def test_an_invoice_of_a_customer_without_a_card_stays_unpaid(client, operator_headers, new_customer):
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    finalize(client, operator_headers, period)
    invoice = invoice_of(client, customer, period)
    assert (invoice["status"], invoice["payment_status"], invoice["amount_paid_cents"]) == ("finalized", None, 0)


def test_invoices_a_run_did_not_charge_are_charged_by_the_daily_job(
    client, operator_headers, new_customer, admin_conn, sdk, monkeypatch
):
    """The process dies between finalizing and charging: the job heals it, once."""
    from chalicelib.billing import service as billing

    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200
    monkeypatch.setattr(billing.payments, "charge_finalized", lambda *args, **kwargs: None)
    finalize(client, operator_headers, period)
    monkeypatch.undo()
    invoice = invoice_of(client, customer, period)
    assert (invoice["status"], invoice["payment_status"]) == ("finalized", None)

    report = dunning.run(after(period, days=1))
    assert report.succeeded >= 1 and not report.errors
    assert invoice_of(client, customer, period)["status"] == "paid"
    dunning.run(after(period, days=2))
    assert len(intents_of(sdk, stripe_customer_of(admin_conn, customer.customer_id))) == 1


def test_an_attempt_whose_process_died_is_repeated_once_its_lease_ends(
    client, operator_headers, new_customer, admin_conn, sdk, monkeypatch
):
    from chalicelib.billing import service as billing

    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200
    monkeypatch.setattr(billing.payments, "charge_finalized", lambda *args, **kwargs: None)
    finalize(client, operator_headers, period)
    monkeypatch.undo()
    invoice = invoice_of(client, customer, period)
    # Claimed, then the process died before Stripe answered (or before it recorded the answer).
    monkeypatch.setattr(stripe_client, "charge", lambda **kwargs: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        charges.charge_invoice(invoice["id"], as_of=after(period), actor="test")
    monkeypatch.undo()
    [claimed] = attempts_of(admin_conn, invoice["id"])
    assert claimed["status"] == "pending" and claimed["claimed_until"] is not None

    assert charges.charge_invoice(invoice["id"], as_of=after(period), actor="test") == "skipped"  # still leased
    admin_conn.execute(
        "UPDATE payment_attempts SET claimed_until = now() - interval '1 second' WHERE id = %s", (claimed["id"],)
    )
    assert charges.charge_invoice(invoice["id"], as_of=after(period), actor="test") == "succeeded"
    [attempt] = attempts_of(admin_conn, invoice["id"])
    assert (attempt["attempt"], attempt["status"]) == (1, "succeeded")
    assert invoice_of(client, customer, period)["status"] == "paid"


# ---------------------------------------------------------------- dunning


def test_a_declined_card_is_retried_3_5_and_7_days_later_then_the_invoice_is_uncollectible(
    client, operator_headers, new_customer, admin_conn, sdk
):
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    method = card(sdk, DECLINED_WHEN_CHARGED)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": method})[0] == 200

    finalize(client, operator_headers, period)
    invoice = invoice_of(client, customer, period)
    assert (invoice["status"], invoice["payment_status"]) == ("finalized", "failed")
    due = next_attempt(admin_conn, invoice["id"])
    assert due is not None

    for number in range(2, MAX_ATTEMPTS + 1):
        # Not a moment early: the retry waits for its day.
        early = dunning.run(due - timedelta(seconds=1))
        assert len(attempts_of(admin_conn, invoice["id"])) == number - 1, early
        status, report, _ = post(
            client, operator_headers, "/admin/payments/dunning-runs", {"as_of": due.isoformat()}
        )  # the local stack's operator route: a day of dunning, simulated
        assert status == 200 and report["attempted"] >= 1 and not report["stripe_unavailable"], report
        assert len(attempts_of(admin_conn, invoice["id"])) == number
        if number < MAX_ATTEMPTS:
            following = next_attempt(admin_conn, invoice["id"])
            assert following - due == timedelta(days=RETRY_DELAYS[number - 1])
            due = following

    final = invoice_of(client, customer, period)
    assert (final["status"], final["payment_status"], final["next_payment_attempt_at"]) == (
        "uncollectible",
        "failed",
        None,
    )
    attempts = attempts_of(admin_conn, invoice["id"])
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert {a["status"] for a in attempts} == {"failed"} and {a["failure_code"] for a in attempts} == {"card_declined"}
    assert len(intents_of(sdk, stripe_customer_of(admin_conn, customer.customer_id))) == MAX_ATTEMPTS
    # Nothing further: dunning is over for this invoice.
    dunning.run(due + timedelta(days=30))
    assert len(attempts_of(admin_conn, invoice["id"])) == MAX_ATTEMPTS

    emails = admin_conn.execute(
        "SELECT idempotency_key FROM notifications WHERE customer_id = %s AND template = 'invoice_payment_failed'",
        (customer.customer_id,),
    ).fetchall()
    assert len(emails) == MAX_ATTEMPTS
    actions = [
        r["action"]
        for r in admin_conn.execute(
            "SELECT action FROM audit_events WHERE target_id = %s ORDER BY chain_seq", (invoice["id"],)
        ).fetchall()
    ]
    assert actions.count("invoice.payment_failed") == MAX_ATTEMPTS
    assert actions.count("invoice.marked_uncollectible") == 1
    assert actions.count("payment.collection_failed") == 1  # the operators' notice, on the platform chain


def test_a_new_card_retries_the_failed_invoice_at_once(client, operator_headers, new_customer, admin_conn, sdk):
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    declined = card(sdk, DECLINED_WHEN_CHARGED)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": declined})[0] == 200
    finalize(client, operator_headers, period)
    assert invoice_of(client, customer, period)["payment_status"] == "failed"

    status, body, _ = post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})
    assert status == 200 and body["last4"] == "4242"
    invoice = invoice_of(client, customer, period)
    assert (invoice["status"], invoice["payment_status"]) == ("paid", "succeeded")
    assert invoice["amount_paid_cents"] == invoice["total_cents"]
    assert [a["status"] for a in attempts_of(admin_conn, invoice["id"])] == ["failed", "succeeded"]


def test_the_tenants_endpoints_hear_of_the_failed_charge_and_of_the_payment(
    client, operator_headers, new_customer, admin_conn, sdk
):
    """invoice.payment_failed, then invoice.paid (webhooks.events.emit, in the outcome's own transaction)."""
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    admin_conn.execute(
        "INSERT INTO webhook_endpoints (id, customer_id, url, events, secret_sealed)"
        " VALUES (gen_random_uuid(), %s, 'https://hooks.example.test/billing',"
        " ARRAY['invoice.paid', 'invoice.payment_failed'], decode('00', 'hex'))",
        (customer.customer_id,),
    )
    declined = card(sdk, DECLINED_WHEN_CHARGED)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": declined})[0] == 200
    finalize(client, operator_headers, period)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200
    invoice = invoice_of(client, customer, period)
    events = admin_conn.execute(
        "SELECT type, data FROM webhook_events WHERE customer_id = %s AND data->>'id' = %s ORDER BY created_at",
        (customer.customer_id, invoice["id"]),
    ).fetchall()
    assert [e["type"] for e in events] == ["invoice.payment_failed", "invoice.paid"]
    failed, paid = (e["data"] for e in events)
    assert failed["attempt"] == 1 and failed["failure_code"] == "card_declined" and failed["next_payment_attempt_at"]
    assert failed["total_cents"] == invoice["total_cents"] and failed["status"] == "finalized"
    assert paid["status"] == "paid" and paid["amount_paid_cents"] == invoice["total_cents"] and paid["attempt"] == 2


def test_only_operators_run_dunning_and_only_the_local_stack_simulates_days(
    client, operator_headers, new_customer, monkeypatch
):
    customer = new_customer()
    assert post(client, customer.headers, "/admin/payments/dunning-runs", {})[0] == 403
    status, report, _ = post(client, operator_headers, "/admin/payments/dunning-runs", {})
    assert status == 200 and report["stripe_unavailable"] is False, report
    far = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    assert post(client, operator_headers, "/admin/payments/dunning-runs", {"as_of": far})[0] == 422
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert post(client, operator_headers, "/admin/payments/dunning-runs", {"as_of": past})[0] == 422
    for body in ({"as_of": "tomorrow"}, {"as_of": 12}, {"as_of": "2026-01-01T00:00:00"}, {"extra": 1}):
        assert post(client, operator_headers, "/admin/payments/dunning-runs", body)[0] == 400, body
    monkeypatch.setenv(Env.STAGE, "prod")
    reset_settings()
    try:
        soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        status, body, _ = post(client, operator_headers, "/admin/payments/dunning-runs", {"as_of": soon})
        assert status == 422 and "local stack" in body["Message"]
    finally:
        monkeypatch.undo()
        reset_settings()


# ---------------------------------------------------------------- Stripe unavailable


def test_stripe_down_is_a_503_with_retry_after_and_leaves_invoices_due(
    client, operator_headers, new_customer, admin_conn, sdk, stack
):
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200
    other = new_customer()
    method = card(sdk)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(Env.STRIPE_API_BASE, f"http://127.0.0.1:{free_port()}")
        reset_settings()
        stripe_client.reset()
        try:
            status, body, headers = post(
                client, other.headers, "/billing/payment-method", {"payment_method_id": method}
            )
            assert status == 503 and int(headers["Retry-After"]) >= 1, body
            assert post(client, other.headers, "/billing/setup-intent")[0] == 503
            finalize(client, operator_headers, period)  # the run succeeds; its charge waits
            invoice = invoice_of(client, customer, period)
            # Not charged (the run stops at Stripe's outage) or charged with no answer: due either way.
            assert invoice["status"] == "finalized" and invoice["payment_status"] in (None, "pending")
            stripe_client.reset()
            report = dunning.run(after(period, days=2))
            assert report.stripe_unavailable and report.succeeded == 0
        finally:
            patch.undo()
            reset_settings()
            stripe_client.reset()

    assert invoice_of(client, customer, period)["status"] == "finalized"  # still due
    dunning.run(after(period, days=2))
    invoice = invoice_of(client, customer, period)
    assert (invoice["status"], invoice["payment_status"]) == ("paid", "succeeded")
    [attempt] = attempts_of(admin_conn, invoice["id"])  # the same attempt, repeated with its idempotency key
    assert attempt["attempt"] == 1 and attempt["status"] == "succeeded"
    assert len(intents_of(sdk, stripe_customer_of(admin_conn, customer.customer_id))) == 1


def test_retries_come_3_5_and_7_days_after_each_decline_and_none_after_the_fourth():
    declined = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert [next_attempt_at(attempt, declined) for attempt in (1, 2, 3, 4)] == [
        declined + timedelta(days=3),
        declined + timedelta(days=5),
        declined + timedelta(days=7),
        None,
    ]


# ---------------------------------------------------------------- Stripe's webhooks


def signed(payload: bytes, secret: str = LOCAL_STRIPE_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header as Stripe makes it: ``t=<unix time>,v1=<HMAC-SHA256 of "t.payload">``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(client, event: dict, *, signature: str | None = None, payload: bytes | None = None):
    body = payload if payload is not None else json.dumps(event).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature != "":
        headers["Stripe-Signature"] = signature or signed(body)
    response = client.http.post("/webhooks/stripe", headers=headers, body=body)
    return response.status_code, json.loads(response.body) if response.body else None


def intent_event(
    event_type: str, *, intent_id: str, stripe_customer: str, invoice_id, attempt: int, amount: int, customer_id
):
    return {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "currency": "usd",
                "customer": stripe_customer,
                "status": "succeeded" if event_type.endswith("succeeded") else "requires_payment_method",
                "metadata": {"invoice_id": str(invoice_id), "attempt": str(attempt), "customer_id": str(customer_id)},
            }
        },
    }


def stripe_events(admin_conn, event_id) -> int:
    return admin_conn.execute("SELECT count(*) AS n FROM stripe_events WHERE id = %s", (event_id,)).fetchone()["n"]


@pytest.mark.parametrize(
    "signature",
    [
        "",  # no header at all
        "garbage",
        "t=1,v1=00",
        "wrong secret",
        "too old",
    ],
)
def test_a_bad_signature_is_400_and_changes_nothing(client, admin_conn, signature):
    event = {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {}},
    }
    payload = json.dumps(event).encode()
    if signature == "wrong secret":
        signature = signed(payload, secret="whsec_not_ours")
    elif signature == "too old":
        signature = signed(payload, timestamp=int(time.time()) - 3600)
    status, body = deliver(client, event, signature=signature, payload=payload)
    assert status == 400, body
    assert stripe_events(admin_conn, event["id"]) == 0


def test_a_body_that_is_not_the_signed_one_is_400(client, admin_conn):
    event = {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "customer.created",
        "data": {"object": {}},
    }
    payload = json.dumps(event).encode()
    tampered = payload.replace(b"customer.created", b"customer.deleted")
    assert deliver(client, event, signature=signed(payload), payload=tampered)[0] == 400
    assert deliver(client, event, signature=None, payload=b"not json")[0] == 400
    for signed_but_no_event in (b"[1, 2]", b'"text"', b'{"id": 7, "type": []}', b"{}"):
        assert deliver(client, event, signature=None, payload=signed_but_no_event)[0] == 400, signed_but_no_event


def test_an_unknown_event_type_is_acknowledged_and_ignored(client, admin_conn):
    event = {
        "id": f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": "charge.dispute.created",
        "data": {"object": {"id": "dp_1"}},
    }
    assert deliver(client, event) == (200, {"received": True})
    assert stripe_events(admin_conn, event["id"]) == 1


def test_stripe_settles_an_attempt_whose_outcome_was_unknown_and_a_replay_changes_nothing(
    client, operator_headers, new_customer, admin_conn, sdk
):
    """Our call never heard back (Stripe down): Stripe's payment_intent.succeeded settles it, once."""
    period = fresh_period()
    customer = customer_with_usage(new_customer, period)
    assert post(client, customer.headers, "/billing/payment-method", {"payment_method_id": card(sdk)})[0] == 200
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(Env.STRIPE_API_BASE, f"http://127.0.0.1:{free_port()}")
        reset_settings()
        stripe_client.reset()
        try:
            finalize(client, operator_headers, period)
            invoice = invoice_of(client, customer, period)
            stripe_client.reset()
            with pytest.raises(stripe_client.StripeUnavailable):  # asked, never answered
                charges.charge_invoice(invoice["id"], as_of=after(period), actor="test")
        finally:
            patch.undo()
            reset_settings()
            stripe_client.reset()
    invoice = invoice_of(client, customer, period)
    assert invoice["payment_status"] == "pending"
    event = intent_event(
        "payment_intent.succeeded",
        intent_id=f"pi_{uuid.uuid4().hex[:20]}",
        stripe_customer=stripe_customer_of(admin_conn, customer.customer_id),
        invoice_id=invoice["id"],
        attempt=1,
        amount=invoice["total_cents"],
        customer_id=customer.customer_id,
    )
    assert deliver(client, event) == (200, {"received": True})
    paid = invoice_of(client, customer, period)
    assert (paid["status"], paid["payment_status"], paid["amount_paid_cents"]) == (
        "paid",
        "succeeded",
        paid["total_cents"],
    )
    [attempt] = attempts_of(admin_conn, invoice["id"])
    assert (attempt["status"], attempt["stripe_payment_intent_id"]) == ("succeeded", event["data"]["object"]["id"])

    def audit_count() -> int:
        return admin_conn.execute(
            "SELECT count(*) AS n FROM audit_events WHERE target_id = %s", (invoice["id"],)
        ).fetchone()["n"]

    before = audit_count()
    assert deliver(client, event) == (200, {"received": True})  # replayed: the same event id
    assert audit_count() == before and stripe_events(admin_conn, event["id"]) == 1
    assert invoice_of(client, customer, period) == paid


def test_an_event_naming_another_tenants_charge_is_ignored(client, operator_headers, new_customer, admin_conn, sdk):
    period = fresh_period()
    victim = customer_with_usage(new_customer, period)
    assert (
        post(
            client, victim.headers, "/billing/payment-method", {"payment_method_id": card(sdk, DECLINED_WHEN_CHARGED)}
        )[0]
        == 200
    )
    attacker = new_customer()
    assert post(client, attacker.headers, "/billing/setup-intent")[0] == 200
    finalize(client, operator_headers, period)
    invoice = invoice_of(client, victim, period)
    assert invoice["payment_status"] == "failed"
    event = intent_event(
        "payment_intent.succeeded",
        intent_id=f"pi_{uuid.uuid4().hex[:20]}",
        stripe_customer=stripe_customer_of(admin_conn, attacker.customer_id),  # not the victim's Stripe customer
        invoice_id=invoice["id"],
        attempt=1,
        amount=invoice["total_cents"],
        customer_id=victim.customer_id,
    )
    assert deliver(client, event)[0] == 200
    assert invoice_of(client, victim, period)["status"] == "finalized"


def test_localstripe_signs_its_events_and_the_api_accepts_them(chalice_app, new_customer, admin_conn, sdk, stack):
    """localstripe's own webhook delivery, over HTTP to the app: Stripe's signature scheme, end to end."""
    from devstack.server import local_server
    from devstack.stripe_server import WEBHOOK_EVENTS, register_webhook

    port = free_port()
    server = local_server(chalice_app, "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, name="stripe-webhooks", daemon=True)
    thread.start()
    try:
        register_webhook(
            stack.env[Env.STRIPE_API_BASE],
            "tests",
            f"http://127.0.0.1:{port}/webhooks/stripe",
            LOCAL_STRIPE_WEBHOOK_SECRET,
            WEBHOOK_EVENTS,
        )
        customer = new_customer()
        stripe_customer = sdk.v1.customers.create(params={"metadata": {"test": "webhooks"}})
        method = card(sdk)
        sdk.v1.payment_methods.attach(method, params={"customer": stripe_customer.id})
        intent = sdk.v1.payment_intents.create(
            params={
                "amount": 777,
                "currency": "usd",
                "customer": stripe_customer.id,
                "payment_method": method,
                "confirm": True,
            }
        )
        assert intent.status == "succeeded" and customer  # an intent of no tenant of ours: acknowledged, ignored
        deadline = time.monotonic() + 15
        received = []
        while time.monotonic() < deadline and not received:
            received = admin_conn.execute(
                "SELECT id FROM stripe_events WHERE type = 'payment_intent.succeeded' AND received_at > now() - interval '1 minute'"
            ).fetchall()
            time.sleep(0.2)
        assert received, "localstripe's signed payment_intent.succeeded was not accepted"
    finally:
        register_webhook(stack.env[Env.STRIPE_API_BASE], "tests", "http://127.0.0.1:9/nowhere", "whsec_off", ["none"])
        server.server.shutdown()
        server.server.server_close()


def test_in_the_cloud_the_keys_come_from_secrets_manager_and_a_placeholder_is_not_a_key(
    client, new_customer, monkeypatch
):
    """STRIPE_SECRET_ID / STRIPE_WEBHOOK_SECRET_ID name secrets (moto here); CDK's generated placeholder means 503."""
    from chalicelib.core import aws

    secrets = aws.client("secretsmanager")
    suffix = uuid.uuid4().hex[:8]
    key_id, hook_id = f"tests/stripe-key-{suffix}", f"tests/stripe-hook-{suffix}"
    secrets.create_secret(Name=key_id, SecretString="Zx8PlaceholderGeneratedByCdk0000")
    secrets.create_secret(Name=hook_id, SecretString=LOCAL_STRIPE_WEBHOOK_SECRET)
    customer = new_customer()
    monkeypatch.delenv(Env.STRIPE_API_KEY)
    monkeypatch.delenv(Env.STRIPE_WEBHOOK_SECRET)
    monkeypatch.setenv(Env.STRIPE_SECRET_ID, key_id)
    monkeypatch.setenv(Env.STRIPE_WEBHOOK_SECRET_ID, hook_id)
    reset_settings()
    stripe_client.reset()
    try:
        assert post(client, customer.headers, "/billing/setup-intent")[0] == 503  # not configured yet
        secrets.put_secret_value(SecretId=key_id, SecretString=LOCAL_STRIPE_API_KEY)  # set after deploy
        stripe_client.reset()  # (the functions' cache would take up to 5 minutes)
        assert post(client, customer.headers, "/billing/setup-intent")[0] == 200
        event = {"id": f"evt_{uuid.uuid4().hex[:20]}", "object": "event", "type": "ping", "data": {"object": {}}}
        assert deliver(client, event)[0] == 200  # signed with the secret Secrets Manager holds
    finally:
        monkeypatch.undo()
        reset_settings()
        stripe_client.reset()
