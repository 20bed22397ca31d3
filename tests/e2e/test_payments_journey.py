"""Issue 14, done when: getting paid works end to end over HTTP against ``make run``.

The stack runs in its own process (``conftest.local_stack``), with its own
localstripe; this test is a client from outside with nothing but
``stack.json`` (and the local stack's Stripe secret key, to look at
localstripe as the Stripe dashboard would). Each test onboards its own
customer and bills last month, so either runs alone or in any order:

* a card that pays: the customer's admin key registers a webhook endpoint at a
  receiver in this process and sets card ``4242…`` through the portal's card
  form (a SetupIntent confirmed at localstripe with the publishable key, as
  Stripe.js does); usage last month; the operator's finalizing billing run
  charges it: ``paid``, one PaymentIntent and charge at localstripe for exactly
  the total; ``invoice.finalized`` and ``invoice.paid`` arrive signed and are
  verified with ``standardwebhooks``; the PDF's text matches the invoice.
* a card that declines (``4000000000000341``: attaches, declines when charged):
  ``failed`` with the next attempt 3 days after the run; the operator's
  dunning route, run as of later moments (the local stack's simulated days),
  retries it on its day and not a second before, 3, 5 and 7 days after each
  decline; the fourth decline makes it ``uncollectible``, four charges in all,
  and the tenant heard ``invoice.payment_failed`` for each.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader

from chalicelib.core.contract import LOCAL_STRIPE_API_KEY
from tests.e2e.payments_support import (
    Api,
    LocalStripe,
    attach_card,
    dunning_run,
    finalize,
    ingest,
    invoice_of,
    onboard,
    parse_moment,
    previous_month,
    verified_events,
    webhook_endpoint,
)
from tests.webhook_receiver import Receiver, start_receiver

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"
# Starter: 100,000 API calls and 500 scans included; these are over both.
USAGE = {"api_calls": 123_457, "compliance_scans": 507}
RETRY_DELAYS_DAYS = (3, 5, 7)
# The JSON timestamps and the server's clock agree to the microsecond; a second either side is slack.
CLOCK_SLACK = timedelta(seconds=1)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A threaded HTTP server on 127.0.0.1 (a free port) recording what the tenants' endpoints receive."""
    found, server, thread = start_receiver()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def api(local_stack: dict[str, Any]) -> Api:
    return Api(local_stack["api_url"])


@pytest.fixture
def stripe(local_stack: dict[str, Any]) -> LocalStripe:
    return LocalStripe(local_stack["stripe_api_base"], local_stack["stripe_publishable_key"], LOCAL_STRIPE_API_KEY)


@pytest.fixture
def operator(api: Api, local_stack: dict[str, Any]) -> str:
    return api.token(local_stack["operator_api_key"])


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def _dollars(cents: int) -> str:
    """An amount as the invoice shows it: ``$2,227.04``."""
    return f"${cents // 100:,}.{cents % 100:02d}"


def _words(text: str) -> str:
    """Whitespace as one space: a table cell may wrap where a space was."""
    return re.sub(r"\s+", " ", text)


def test_a_card_pays_the_finalized_invoice_and_the_tenant_hears_of_it(
    api: Api, stripe: LocalStripe, operator: str, receiver: Receiver
) -> None:
    period, first_day = previous_month(datetime.now(UTC))
    customer, admin = onboard(api, operator, "E2E Payer", first_day)
    url = receiver.url("ok")
    secret = webhook_endpoint(api, admin, url)
    attach_card(api, stripe, admin, VISA)
    ingest(api, admin, first_day + timedelta(days=14), USAGE)

    finalize(api, operator, period)
    invoice = invoice_of(api, admin, period, until=lambda found: found["status"] == "paid")
    assert (invoice["status"], invoice["payment_status"]) == ("paid", "succeeded"), invoice
    assert invoice["amount_paid_cents"] == invoice["total_cents"] > 0, invoice
    assert invoice["paid_at"] and invoice["next_payment_attempt_at"] is None, invoice
    assert invoice["customer_id"] == customer["id"]

    # At localstripe: one PaymentIntent for this invoice, exactly the total, and its charge.
    [intent] = stripe.payment_intents_of(invoice["id"])
    assert (intent["amount"], intent["currency"], intent["status"]) == (invoice["total_cents"], "usd", "succeeded")
    assert intent["metadata"]["invoice_number"] == invoice["number"] and intent["metadata"]["attempt"] == "1"
    charge_id = intent["latest_charge"]["id"] if isinstance(intent["latest_charge"], dict) else intent["latest_charge"]
    charge = stripe.get(f"/v1/charges/{charge_id}")
    assert (charge["amount"], charge["status"], charge["paid"]) == (invoice["total_cents"], "succeeded", True), charge

    # The tenant's endpoint heard the invoice finalized, then paid: signed, verified by standardwebhooks.
    events = verified_events(
        receiver,
        url,
        secret,
        invoice["id"],
        until=lambda found: {"invoice.created", "invoice.finalized", "invoice.paid"} <= set(_types(found)),
    )
    assert sorted(_types(events)) == ["invoice.created", "invoice.finalized", "invoice.paid"], events
    by_type = {event["type"]: event for event in events}
    assert _types(events).index("invoice.finalized") < _types(events).index("invoice.paid"), events
    for event in events:
        assert event["customer_id"] == customer["id"] and event["data"]["number"] == invoice["number"], event
        assert event["data"]["total_cents"] == invoice["total_cents"] and event["data"]["period"] == period, event
    assert by_type["invoice.finalized"]["data"]["status"] == "finalized"
    assert by_type["invoice.paid"]["data"]["status"] == "paid"
    assert by_type["invoice.paid"]["data"]["amount_paid_cents"] == invoice["total_cents"]

    # The PDF: its text holds the number, the period, every line and the total as the invoice shows it.
    status, headers, pdf = api.request("GET", f"/invoices/{invoice['id']}/pdf", token=admin, accept="application/pdf")
    assert status == 200, pdf[:500]
    assert headers["Content-Type"] == "application/pdf" and pdf.startswith(b"%PDF-")
    text = _words("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    assert invoice["number"] in text and period in text, text
    assert len(invoice["lines"]) == 3, invoice["lines"]  # the base fee and both metrics over their allowance
    for line in invoice["lines"]:
        assert _words(line["description"]) in text, (line, text)
        assert _dollars(line["amount_cents"]) in text, (line, text)
    assert _dollars(invoice["total_cents"]) in text, text


def test_a_declined_card_is_retried_3_5_and_7_days_later_then_the_invoice_is_uncollectible(
    api: Api, stripe: LocalStripe, operator: str, receiver: Receiver
) -> None:
    period, first_day = previous_month(datetime.now(UTC))
    customer, admin = onboard(api, operator, "E2E Decliner", first_day)
    url = receiver.url("ok")
    secret = webhook_endpoint(api, admin, url)
    attach_card(api, stripe, admin, DECLINED_WHEN_CHARGED)  # attaching it succeeds
    ingest(api, admin, first_day + timedelta(days=20), USAGE)

    before = datetime.now(UTC)
    finalize(api, operator, period)
    after = datetime.now(UTC)
    invoice = invoice_of(api, admin, period, until=lambda found: found["payment_status"] == "failed")
    assert (invoice["status"], invoice["payment_status"], invoice["amount_paid_cents"]) == ("finalized", "failed", 0)
    due = parse_moment(invoice["next_payment_attempt_at"])
    # Declined during the run: the retry is 3 days after that moment.
    assert before + timedelta(days=3) - CLOCK_SLACK <= due <= after + timedelta(days=3) + CLOCK_SLACK, invoice
    assert len(stripe.payment_intents_of(invoice["id"])) == 1

    for attempt, delay in zip((2, 3, 4), (*RETRY_DELAYS_DAYS[1:], None), strict=True):
        # Not a moment early: a day of dunning that ends a second before the retry's leaves it alone.
        dunning_run(api, operator, due - timedelta(seconds=1))
        assert len(stripe.payment_intents_of(invoice["id"])) == attempt - 1
        report = dunning_run(api, operator, due)
        assert report["failed"] >= 1, report
        assert len(stripe.payment_intents_of(invoice["id"])) == attempt
        invoice = invoice_of(api, admin, period)
        if delay is None:
            assert report["uncollectible"] >= 1, report
            break
        assert (invoice["status"], invoice["payment_status"]) == ("finalized", "failed"), invoice
        following = parse_moment(invoice["next_payment_attempt_at"])
        assert following - due == timedelta(days=delay), (attempt, invoice)
        due = following

    assert (invoice["status"], invoice["payment_status"], invoice["next_payment_attempt_at"]) == (
        "uncollectible",
        "failed",
        None,
    ), invoice
    assert invoice["amount_paid_cents"] == 0 and invoice["paid_at"] is None, invoice
    # Exactly four charges, each for the total, each declined; a month later dunning is over for it.
    dunning_run(api, operator, due + timedelta(days=30))
    intents = stripe.payment_intents_of(invoice["id"])
    assert [intent["metadata"]["attempt"] for intent in intents] == ["1", "2", "3", "4"], intents
    assert {intent["amount"] for intent in intents} == {invoice["total_cents"]}, intents
    assert all(intent["status"] != "succeeded" for intent in intents), intents

    # The tenant heard of each decline; the last one says the invoice is uncollectible.
    events = verified_events(
        receiver, url, secret, invoice["id"], until=lambda found: _types(found).count("invoice.payment_failed") >= 4
    )
    failures = [event["data"] for event in events if event["type"] == "invoice.payment_failed"]
    assert [data["attempt"] for data in failures] == [1, 2, 3, 4], failures
    assert all(data["failure_code"] == "card_declined" for data in failures), failures
    assert all(event["customer_id"] == customer["id"] for event in events), events
    assert [data["status"] for data in failures] == ["finalized"] * 3 + ["uncollectible"], failures
    assert failures[-1]["next_payment_attempt_at"] is None and all(d["next_payment_attempt_at"] for d in failures[:3])
    assert "invoice.paid" not in _types(events), events
