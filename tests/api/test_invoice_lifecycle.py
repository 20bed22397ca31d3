"""The operator's ``POST /admin/invoices/{id}/void`` and ``/mark-paid``, and ``invoices.lifecycle`` itself.

Only a finalized, unpaid invoice changes (409 otherwise, 404 unknown); each
change is audited on the customer's chain and shows in the customer's invoice.
"""

from __future__ import annotations

import itertools
import json
import uuid
from decimal import Decimal

import psycopg
import pytest

from chalicelib.core import db
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.periods import Period
from chalicelib.invoices import lifecycle
from chalicelib.invoices.models import InvoiceResponse
from tests.api.test_billing_routes import get, ingest, run
from tests.billing_support import EARLY_START, audit_actions, fresh_period

# The months of one private billing year, one per invoice (tests/billing_support.py).
_YEAR = fresh_period().year
_months = itertools.count(1)


@pytest.fixture
def billed(client, operator_headers, new_customer):
    """Factory: a new customer's invoice of a month of its own, finalized unless ``finalize=False``."""

    def create(finalize: bool = True):
        period = Period(_YEAR, next(_months))
        customer = new_customer("starter", billing_start_date=EARLY_START)
        assert ingest(client, customer, period, api_calls=150_000)[0] == 200
        assert run(client, operator_headers, period, finalize=finalize)[0] == 200
        [summary] = [
            item for item in get(client, customer.headers, "/invoices")[1]["items"] if item["period"] == period.label
        ]
        return customer, summary

    return create


def post(client, headers, path, body):
    response = client.http.post(path, headers=headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def test_an_operator_marks_a_finalized_invoice_paid_and_the_customer_sees_it(
    client, operator_headers, billed, admin_conn
):
    customer, summary = billed()
    assert summary["status"] == "finalized" and summary["amount_paid_cents"] == 0 and summary["paid_at"] is None
    assert summary["payment_status"] is None and summary["next_payment_attempt_at"] is None

    status, paid = post(
        client, operator_headers, f"/admin/invoices/{summary['id']}/mark-paid", {"reference": "wire 2031-77"}
    )
    assert status == 200, paid
    InvoiceResponse.model_validate(paid)
    assert paid["status"] == "paid" and paid["amount_paid_cents"] == paid["total_cents"] == summary["total_cents"]
    assert paid["paid_at"] is not None and paid["payment_status"] is None  # no processor took part
    assert get(client, customer.headers, f"/invoices/{summary['id']}")[1] == paid
    row = admin_conn.execute("SELECT payment_reference FROM invoices WHERE id = %s", (summary["id"],)).fetchone()
    assert row["payment_reference"] == "wire 2031-77"
    assert audit_actions(admin_conn, customer.customer_id, summary["id"])[-1] == "invoice.paid"
    event = admin_conn.execute(
        "SELECT actor, detail FROM audit_events WHERE target_id = %s AND action = 'invoice.paid'", (summary["id"],)
    ).fetchone()
    assert event["actor"].startswith("operator:")
    assert event["detail"]["amount_paid_cents"] == summary["total_cents"] and event["detail"]["from"] == "finalized"

    # Paid is terminal: a second payment or a void is a conflict, and nothing changes.
    for path, body in (("mark-paid", {"reference": "again"}), ("void", {"reason": "too late"})):
        status, error = post(client, operator_headers, f"/admin/invoices/{summary['id']}/{path}", body)
        assert status == 409, error
    assert get(client, customer.headers, f"/invoices/{summary['id']}")[1] == paid


def test_an_operator_voids_a_finalized_invoice(client, operator_headers, billed, admin_conn):
    customer, summary = billed()
    status, voided = post(
        client, operator_headers, f"/admin/invoices/{summary['id']}/void", {"reason": "Billed twice by mistake"}
    )
    assert status == 200, voided
    assert voided["status"] == "void" and voided["amount_paid_cents"] == 0 and voided["total_cents"] > 0
    row = admin_conn.execute("SELECT voided_at, void_reason FROM invoices WHERE id = %s", (summary["id"],)).fetchone()
    assert row["voided_at"] is not None and row["void_reason"] == "Billed twice by mistake"
    assert audit_actions(admin_conn, customer.customer_id, summary["id"])[-1] == "invoice.voided"
    assert post(client, operator_headers, f"/admin/invoices/{summary['id']}/mark-paid", {"reference": "r"})[0] == 409
    page = get(client, customer.headers, "/invoices?status=void")[1]
    assert [item["id"] for item in page["items"]] == [summary["id"]]


def test_a_draft_cannot_be_paid_or_voided_and_an_unknown_invoice_is_404(client, operator_headers, billed):
    customer, draft = billed(finalize=False)
    assert draft["status"] == "draft"
    for path, body in (("mark-paid", {"reference": "r"}), ("void", {"reason": "r"})):
        status, error = post(client, operator_headers, f"/admin/invoices/{draft['id']}/{path}", body)
        assert status == 409 and "draft" in error["Message"], error
        assert post(client, operator_headers, f"/admin/invoices/{uuid.uuid4()}/{path}", body)[0] == 404
        assert post(client, operator_headers, f"/admin/invoices/not-a-uuid/{path}", body)[0] == 404
    assert get(client, customer.headers, f"/invoices/{draft['id']}")[1]["status"] == "draft"


def test_bad_bodies_are_400(client, operator_headers, billed):
    _, summary = billed()
    for path, body in (
        ("void", {}),
        ("void", {"reason": ""}),
        ("void", {"reason": "   "}),
        ("void", {"reason": "x" * 501}),
        ("mark-paid", {}),
        ("mark-paid", {"reference": 5}),
        ("mark-paid", {"reference": "r", "amount": 1}),
    ):
        status, error = post(client, operator_headers, f"/admin/invoices/{summary['id']}/{path}", body)
        assert status == 400, (path, body, error)


def test_a_customer_may_not_call_the_operator_routes(client, billed):
    customer, summary = billed()
    for path, body in (("mark-paid", {"reference": "r"}), ("void", {"reason": "r"})):
        assert post(client, customer.headers, f"/admin/invoices/{summary['id']}/{path}", body)[0] == 403
    assert get(client, customer.headers, f"/invoices/{summary['id']}")[1]["status"] == "finalized"


def test_uncollectible_then_paid_late_through_the_lifecycle_functions(billed, admin_conn):
    customer, summary = billed()
    invoice_id = uuid.UUID(summary["id"])
    with db.operator_transaction(actor="system:payments") as conn:
        given_up = lifecycle.mark_uncollectible(conn, invoice_id)
    assert given_up["status"] == "uncollectible"
    with pytest.raises(Conflict), db.operator_transaction() as conn:
        lifecycle.mark_uncollectible(conn, invoice_id)
    total = Decimal(summary["total_cents"]).scaleb(-2)
    with db.operator_transaction(actor="system:payments") as conn:
        paid = lifecycle.mark_paid(conn, invoice_id, amount_paid=total, reference="pi_123", payment_status="succeeded")
    assert (paid["status"], paid["amount_paid"], paid["payment_status"]) == ("paid", total, "succeeded")
    assert audit_actions(admin_conn, customer.customer_id, invoice_id)[-2:] == [
        "invoice.marked_uncollectible",
        "invoice.paid",
    ]
    with pytest.raises(NotFound), db.operator_transaction() as conn:
        lifecycle.void(conn, uuid.uuid4(), reason="r")
    with pytest.raises(ValueError), db.operator_transaction() as conn:
        lifecycle.mark_paid(conn, invoice_id, amount_paid=Decimal("1.001"), reference="r")


def test_a_tenant_transaction_cannot_change_an_invoice_not_even_its_own(billed, admin_conn):
    """saas_app only reads invoices: the lifecycle needs an operator (or job) transaction."""
    customer, summary = billed()
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.tenant_transaction(customer.customer_id) as conn:
        lifecycle.void(conn, uuid.UUID(summary["id"]), reason="mine")
    assert admin_conn.execute("SELECT status FROM invoices WHERE id = %s", (summary["id"],)).fetchone()["status"] == (
        "finalized"
    )


def test_the_tenants_endpoint_hears_invoice_paid_when_an_operator_marks_it_paid(
    client, operator_headers, billed, admin_conn
):
    customer, summary = billed()
    body = {"url": "http://127.0.0.1:9/hooks", "events": ["invoice.paid"]}
    created = client.http.post("/webhook-endpoints", headers=customer.headers, body=json.dumps(body))
    assert created.status_code == 201, created.body
    assert post(client, operator_headers, f"/admin/invoices/{summary['id']}/mark-paid", {"reference": "r"})[0] == 200
    [event] = admin_conn.execute(
        "SELECT type, data FROM webhook_events WHERE customer_id = %s", (customer.customer_id,)
    ).fetchall()
    assert event["type"] == "invoice.paid"
    assert event["data"]["id"] == summary["id"] and event["data"]["status"] == "paid"
    assert event["data"]["amount_paid_cents"] == event["data"]["total_cents"] == summary["total_cents"]
