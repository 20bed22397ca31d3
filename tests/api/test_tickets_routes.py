"""/support-tickets through chalice.test.Client, authenticated with the auth fixtures."""

import json
import uuid

import psycopg
import pytest


def _post(client, path, headers, body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.http.post(path, headers=headers, body=raw)


def _json(response):
    return json.loads(response.body)


def _open(client, customer, subject="Cannot log in", priority="high"):
    response = _post(
        client,
        "/support-tickets",
        customer.headers,
        {"subject": subject, "body": "Since this morning.", "priority": priority},
    )
    assert response.status_code == 201, response.body
    return _json(response)


def test_opening_a_ticket_returns_201_and_the_ticket(client, new_customer):
    customer = new_customer()
    ticket = _open(client, customer)
    assert uuid.UUID(ticket["id"])
    assert ticket["customer_id"] == str(customer.customer_id)
    assert (ticket["subject"], ticket["priority"], ticket["status"], ticket["closed_at"]) == (
        "Cannot log in",
        "high",
        "open",
        None,
    )
    assert ticket["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        "null",
        "42",
        "{}",
        json.dumps({"subject": "s"}),
        json.dumps({"body": "b"}),
        json.dumps({"subject": "", "body": "b"}),
        json.dumps({"subject": "   ", "body": "b"}),
        json.dumps({"subject": "s" * 201, "body": "b"}),
        json.dumps({"subject": "s", "body": "b" * 20001}),
        json.dumps({"subject": 7, "body": "b"}),
        json.dumps({"subject": "s", "body": ["b"]}),
        json.dumps({"subject": "s", "body": "b", "priority": "whenever"}),
        json.dumps({"subject": "s", "body": "b", "extra": 1}),
        json.dumps({"subject": "a\u0000b", "body": "b"}),
        '{"subject": "\\ud800", "body": "b"}',
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_garbage_bodies_are_400(client, new_customer, body):
    response = _post(client, "/support-tickets", new_customer().headers, body)
    assert response.status_code == 400, response.body
    assert set(_json(response)) == {"Code", "Message"} and _json(response)["Code"] == "BadRequestError"


def test_a_non_json_content_type_is_415(client, new_customer):
    headers = {**new_customer().headers, "Content-Type": "text/plain"}
    response = client.http.post("/support-tickets", headers=headers, body="subject=s")
    assert response.status_code == 415


def test_listing_is_paginated_newest_first(client, new_customer):
    customer = new_customer()
    opened = [_open(client, customer, subject=f"ticket {i}")["id"] for i in range(3)]
    first = _json(client.http.get("/support-tickets?limit=2", headers=customer.headers))
    assert [t["id"] for t in first["items"]] == opened[::-1][:2]
    assert first["next_cursor"]
    second = _json(client.http.get(f"/support-tickets?limit=2&cursor={first['next_cursor']}", headers=customer.headers))
    assert [t["id"] for t in second["items"]] == [opened[0]]
    assert second["next_cursor"] is None


def test_listing_filters_by_status(client, new_customer):
    customer = new_customer()
    closed, still_open = _open(client, customer), _open(client, customer)
    client.http.patch(f"/support-tickets/{closed['id']}", headers=customer.headers, body='{"status": "closed"}')
    listing = _json(client.http.get("/support-tickets?status=open", headers=customer.headers))
    assert [t["id"] for t in listing["items"]] == [still_open["id"]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=",
        "cursor=!!!",
        "cursor=" + "A" * 600,
        "status=pending",
        "unexpected=1",
    ],
)
def test_bad_list_queries_are_400(client, new_customer, query):
    response = client.http.get(f"/support-tickets?{query}", headers=new_customer().headers)
    assert response.status_code == 400, response.body


def test_a_ticket_reads_back_with_its_comments(client, new_customer):
    customer = new_customer()
    ticket = _open(client, customer)
    comment = _post(client, f"/support-tickets/{ticket['id']}/comments", customer.headers, {"body": "Any news?"})
    assert comment.status_code == 201
    assert _json(comment)["ticket_id"] == ticket["id"] and _json(comment)["body"] == "Any news?"
    detail = _json(client.http.get(f"/support-tickets/{ticket['id']}", headers=customer.headers))
    assert [c["body"] for c in detail["comments"]] == ["Any news?"]
    assert detail["subject"] == ticket["subject"]


@pytest.mark.parametrize(
    "body",
    [
        "nope",
        "{}",
        json.dumps({"body": ""}),
        json.dumps({"body": "\t\n"}),
        json.dumps({"body": 1}),
        json.dumps({"body": "ok", "author": "someone else"}),
    ],
)
def test_garbage_comments_are_400(client, new_customer, body):
    customer = new_customer()
    ticket = _open(client, customer)
    response = _post(client, f"/support-tickets/{ticket['id']}/comments", customer.headers, body)
    assert response.status_code == 400, response.body


def test_closing_returns_200_and_then_refuses_comments(client, new_customer):
    customer = new_customer()
    ticket = _open(client, customer)
    closed = client.http.patch(
        f"/support-tickets/{ticket['id']}", headers=customer.headers, body=json.dumps({"status": "closed"})
    )
    assert closed.status_code == 200
    assert _json(closed)["status"] == "closed" and _json(closed)["closed_at"]
    again = client.http.patch(
        f"/support-tickets/{ticket['id']}", headers=customer.headers, body=json.dumps({"status": "closed"})
    )
    assert again.status_code == 200 and _json(again)["closed_at"] == _json(closed)["closed_at"]
    late = _post(client, f"/support-tickets/{ticket['id']}/comments", customer.headers, {"body": "wait"})
    assert late.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        "{}",
        json.dumps({"status": "open"}),
        json.dumps({"status": "CLOSED"}),
        json.dumps({"status": "closed", "priority": "low"}),
        "closed",
    ],
)
def test_garbage_patches_are_400(client, new_customer, body):
    customer = new_customer()
    ticket = _open(client, customer)
    response = client.http.patch(f"/support-tickets/{ticket['id']}", headers=customer.headers, body=body)
    assert response.status_code == 400, response.body


def test_another_tenants_ticket_is_404_everywhere(client, new_customer):
    owner, intruder = new_customer(), new_customer()
    ticket = _open(client, owner)
    path = f"/support-tickets/{ticket['id']}"
    assert client.http.get(path, headers=intruder.headers).status_code == 404
    assert _post(client, f"{path}/comments", intruder.headers, {"body": "hi"}).status_code == 404
    assert client.http.patch(path, headers=intruder.headers, body='{"status": "closed"}').status_code == 404
    assert _json(client.http.get("/support-tickets", headers=intruder.headers))["items"] == []
    # The owner's ticket is untouched.
    detail = _json(client.http.get(path, headers=owner.headers))
    assert detail["status"] == "open" and detail["comments"] == []


@pytest.mark.parametrize(
    "ticket_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%00", str(uuid.uuid4())]
)
def test_malformed_or_unknown_ids_are_404(client, new_customer, ticket_id):
    customer = new_customer()
    path = f"/support-tickets/{ticket_id}"
    assert client.http.get(path, headers=customer.headers).status_code == 404
    assert _post(client, f"{path}/comments", customer.headers, {"body": "hi"}).status_code == 404
    assert client.http.patch(path, headers=customer.headers, body='{"status": "closed"}').status_code == 404


def test_without_credentials_401_and_operators_403(client, operator_headers):
    assert client.http.get("/support-tickets").status_code == 401
    assert client.http.get("/support-tickets", headers=operator_headers).status_code == 403
    assert _post(client, "/support-tickets", operator_headers, {"subject": "s", "body": "b"}).status_code == 403


def test_opening_and_closing_are_in_the_audit_trail(client, new_customer):
    customer = new_customer()
    ticket = _open(client, customer)
    client.http.patch(
        f"/support-tickets/{ticket['id']}",
        headers={**customer.headers, "X-Request-Id": "req-close-0001"},
        body='{"status": "closed"}',
    )
    events = _json(client.http.get("/audit-events?limit=100", headers=customer.headers))["items"]
    ours = [e for e in events if e["target_id"] == ticket["id"]]
    assert [e["action"] for e in ours] == ["support_ticket.closed", "support_ticket.created"]
    assert ours[0]["request_id"] == "req-close-0001"
    assert ours[0]["actor"].startswith(f"customer:{customer.customer_id}/key:{customer.key_id}")


def test_rows_are_stored_under_the_callers_tenant(client, new_customer, admin_url):
    customer = new_customer()
    ticket = _open(client, customer)
    with psycopg.connect(admin_url) as conn:
        owner = conn.execute("SELECT customer_id FROM support_tickets WHERE id = %s", (ticket["id"],)).fetchone()[0]
    assert owner == customer.customer_id


def test_a_new_ticket_shows_up_as_a_queued_email_to_the_customer(client, new_customer):
    customer = new_customer()
    ticket = _open(client, customer)
    records = _json(client.http.get("/notifications", headers=customer.headers))["items"]
    confirmations = [n for n in records if n["template"] == "support_ticket_created"]
    assert len(confirmations) == 1
    assert confirmations[0]["recipient"] == customer.email
    assert confirmations[0]["status"] == "queued" and confirmations[0]["channel"] == "email"
    assert ticket["id"][:8] in confirmations[0]["subject"]
