"""Issue 11, item 9: the chain head is exportable, and the events that were missing are audited.

``GET /audit-events/head`` gives the newest link of the caller's hash chain,
for the customer to keep outside the platform. Ticket comments, usage
ingestion batches (one event per batch), operators' reads of a customer and
lockouts now leave events too.
"""

from __future__ import annotations

import json
import re
import types
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb

from chalicelib.audit import service as audit_service
from chalicelib.auth import authentication, clock, key_format, throttle
from chalicelib.core import errors


def _get(client, path, headers):
    response = client.http.get(path, headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def _events(client, customer, action=None) -> list[dict]:
    items = _get(client, "/audit-events?limit=100", customer.headers)["items"]
    return [e for e in items if action is None or e["action"] == action]


def _head(client, customer) -> dict:
    return _get(client, "/audit-events/head", customer.headers)


def _open_ticket(client, customer) -> str:
    response = client.http.post(
        "/support-tickets", headers=customer.headers, body=json.dumps({"subject": "s", "body": "b"})
    )
    assert response.status_code == 201, response.body
    return json.loads(response.body)["id"]


def _stored(admin_conn, event_id) -> dict:
    return admin_conn.execute(
        "SELECT chain_seq, encode(hash, 'hex') AS hash FROM audit_events WHERE id = %s", (event_id,)
    ).fetchone()


# ---------------------------------------------------------------- the chain head
def test_i11_9_the_head_is_the_newest_event_and_moves_with_the_next(client, new_customer, admin_conn):
    customer = new_customer()
    head = _head(client, customer)
    newest = _events(client, customer)[0]
    assert set(head) == {"count", "last_event_id", "last_hash", "as_of"}
    assert head["last_event_id"] == newest["id"]
    assert re.fullmatch(r"[0-9a-f]{64}", head["last_hash"])
    assert head["last_hash"] == _stored(admin_conn, newest["id"])["hash"]
    assert head["count"] == len(_events(client, customer)) == _stored(admin_conn, newest["id"])["chain_seq"]
    assert datetime.fromisoformat(head["as_of"]) >= datetime.fromisoformat(newest["occurred_at"])

    _open_ticket(client, customer)
    moved = _head(client, customer)
    newest = _events(client, customer)[0]
    assert newest["action"] == "support_ticket.created"
    assert moved["last_event_id"] == newest["id"] and moved["count"] == head["count"] + 1
    assert moved["last_hash"] not in (None, head["last_hash"])


def test_i11_9_a_tenant_never_sees_anothers_head(client, new_customer):
    mine, theirs = new_customer(), new_customer()
    before = _head(client, mine)
    _open_ticket(client, theirs)
    their_ids = {e["id"] for e in _events(client, theirs)}
    after = _head(client, mine)
    assert after["last_event_id"] == before["last_event_id"] and after["last_hash"] == before["last_hash"]
    assert after["last_event_id"] not in their_ids
    assert _head(client, theirs)["last_event_id"] in their_ids


def test_i11_9_an_empty_chain_has_count_0_and_no_head(make_customer):
    head = audit_service.chain_head(make_customer())  # made behind the API's back: no event yet
    assert (head.count, head.last_event_id, head.last_hash) == (0, None, None)
    assert head.model_dump(mode="json")["as_of"]


def test_i11_9_the_pinned_head_exposes_a_rewrite_that_recomputed_every_hash(
    client, new_customer, admin_conn, admin_url
):
    """Someone with superuser rights edits an old event and re-chains everything after it:
    verify_audit_chain sees an intact chain, but the head the customer kept no longer matches."""
    customer = new_customer()
    _open_ticket(client, customer)
    pinned = _head(client, customer)
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET session_replication_role = replica")
        rows = conn.execute(
            "SELECT id, chain_key, chain_seq, prev_hash, occurred_at, actor, action, target_type,"
            " target_id, detail, request_id FROM audit_events WHERE customer_id = %s"
            " ORDER BY chain_seq",
            (customer.customer_id,),
        ).fetchall()
        previous = None
        for n, row in enumerate(rows):
            actor = "operator:someone-else" if n == 0 else row[5]
            new_hash = conn.execute(
                "SELECT audit_event_hash(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    row[1],
                    row[2],
                    previous if n else row[3],
                    row[4],
                    actor,
                    row[6],
                    row[7],
                    row[8],
                    Jsonb(row[9]),
                    row[10],
                ),
            ).fetchone()[0]
            conn.execute(
                "UPDATE audit_events SET actor = %s, prev_hash = %s, hash = %s WHERE id = %s",
                (actor, previous if n else row[3], new_hash, row[0]),
            )
            previous = new_hash
    assert admin_conn.execute("SELECT * FROM verify_audit_chain(%s)", (customer.customer_id,)).fetchall() == []
    now = _head(client, customer)
    assert now["last_event_id"] == pinned["last_event_id"] and now["count"] == pinned["count"]
    assert now["last_hash"] != pinned["last_hash"]


def test_i11_9_the_head_is_for_customers(client, operator_headers):
    assert client.http.get("/audit-events/head").status_code == 401
    assert client.http.get("/audit-events/head", headers=operator_headers).status_code == 403


def test_i11_9_the_head_is_in_the_openapi_document(client):
    document = _get(client, "/openapi.json", {})
    operation = document["paths"]["/audit-events/head"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuditChainHead"
    }
    schema = document["components"]["schemas"]["AuditChainHead"]
    assert set(schema["required"]) == {"count", "last_event_id", "last_hash", "as_of"}
    assert "64 lowercase hex digits" in schema["properties"]["last_hash"]["description"]


# ---------------------------------------------------------------- what is now audited
def test_i11_9_a_ticket_comment_is_audited_without_its_text(client, new_customer):
    customer = new_customer()
    ticket = _open_ticket(client, customer)
    response = client.http.post(
        f"/support-tickets/{ticket}/comments",
        headers=customer.headers,
        body=json.dumps({"body": "my password is hunter2"}),
    )
    assert response.status_code == 201
    comment = json.loads(response.body)
    [event] = _events(client, customer, "support_ticket.comment_added")
    assert (event["target_type"], event["target_id"]) == ("support_ticket", ticket)
    assert event["detail"] == {"comment_id": comment["id"]}
    assert event["actor"] == f"customer:{customer.customer_id}/key:{customer.key_id}"


def test_i11_9_a_usage_batch_is_one_event_with_its_counts(client, new_customer):
    customer = new_customer()
    stamp = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    batch = [{"event_id": e, "metric": "api_calls", "quantity": 1, "timestamp": stamp} for e in ("a", "b", "a")]
    for _ in range(2):
        response = client.http.post("/metrics", headers=customer.headers, body=json.dumps({"events": batch}))
        assert response.status_code == 200
    events = _events(client, customer, "usage.ingested")
    assert [e["detail"] for e in events] == [
        {"events": 3, "accepted": 0, "duplicates": 3},
        {"events": 3, "accepted": 2, "duplicates": 1},
    ]
    assert events[0]["actor"] == f"customer:{customer.customer_id}/key:{customer.key_id}"
    bad = [{"event_id": "z", "metric": "no_such_metric", "quantity": 1, "timestamp": stamp}]
    assert client.http.post("/metrics", headers=customer.headers, body=json.dumps({"events": bad})).status_code == 422
    assert len(_events(client, customer, "usage.ingested")) == 2  # a refused batch changed nothing


def test_i11_9_an_operators_read_of_a_customer_is_on_that_customers_chain(client, new_customer, operator_headers):
    customer, other = new_customer(), new_customer()
    response = client.http.get(f"/admin/customers/{customer.customer_id}", headers=operator_headers)
    assert response.status_code == 200
    [event] = _events(client, customer, "operator.customer_read")
    assert event["actor"].startswith("operator:")
    assert (event["target_type"], event["target_id"]) == ("customer", str(customer.customer_id))
    assert _events(client, other, "operator.customer_read") == []
    missing = client.http.get(f"/admin/customers/{uuid.uuid4()}", headers=operator_headers)
    assert missing.status_code == 404


def test_i11_9_a_page_of_the_customer_list_is_one_platform_event(client, new_customer, operator_headers, admin_conn):
    customer = new_customer()
    response = client.http.get("/admin/customers?limit=100", headers=operator_headers)
    assert response.status_code == 200
    shown = [item["id"] for item in json.loads(response.body)["items"]]
    row = admin_conn.execute(
        "SELECT customer_id, actor, detail FROM audit_events WHERE action = 'operator.customers_listed'"
        " ORDER BY occurred_at DESC LIMIT 1"
    ).fetchone()
    assert row["customer_id"] is None and row["actor"].startswith("operator:")
    assert row["detail"]["customer_ids"] == shown
    assert _events(client, customer, "operator.customers_listed") == []


@pytest.fixture
def frozen_window(monkeypatch):
    """Authentication's clock stopped just after a throttle window starts: the test cannot straddle two."""
    now = int(datetime.now(UTC).timestamp())
    start = now - now % throttle.FAILURE_WINDOW + 1
    monkeypatch.setattr(clock, "time", types.SimpleNamespace(time=lambda: float(start)))
    return start


def _wrong(api_key: str) -> str:
    parsed = key_format.parse(api_key)
    return f"{parsed.prefix}{parsed.public_id}_" + "Z" * 43


def test_i11_9_a_lockout_is_audited_once_per_key_and_window(new_customer, admin_conn, frozen_window):
    customer = new_customer()
    public_id = key_format.parse(customer.api_key).public_id
    for address in ("203.0.113.1", "203.0.113.2"):  # two addresses locked out, one event
        for _ in range(throttle.MAX_FAILURES):
            with pytest.raises(errors.Unauthorized):
                authentication.authenticate(_wrong(customer.api_key), client_address=address)
        with pytest.raises(errors.RateLimited):
            authentication.authenticate(_wrong(customer.api_key), client_address=address)
    rows = admin_conn.execute(
        "SELECT customer_id, actor, detail FROM audit_events WHERE action = 'auth.locked_out'"
        " AND detail->>'public_id' = %s",
        (public_id,),
    ).fetchall()
    assert len(rows) == 1
    assert rows[0]["customer_id"] == customer.customer_id  # the holder's chain
    assert rows[0]["actor"] == f"api_key:{public_id}"
    assert rows[0]["detail"] == {
        "public_id": public_id,
        "failures": throttle.MAX_FAILURES,
        "window_seconds": throttle.FAILURE_WINDOW,
        "first_in_window": True,
    }


def test_i11_9_failures_below_the_limit_are_no_lockout(new_customer, admin_conn, frozen_window):
    customer = new_customer()
    public_id = key_format.parse(customer.api_key).public_id
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(errors.Unauthorized):
            authentication.authenticate(_wrong(customer.api_key), client_address="203.0.113.9")
    assert (
        admin_conn.execute(
            "SELECT count(*) AS n FROM audit_events WHERE action = 'auth.locked_out' AND detail->>'public_id' = %s",
            (public_id,),
        ).fetchone()["n"]
        == 0
    )
