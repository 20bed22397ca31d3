"""GET /audit-events: the caller's own trail, newest first, paginated."""

import json

import pytest


def _events(client, headers, query=""):
    response = client.http.get(f"/audit-events{query}", headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def _open_ticket(client, customer, subject):
    response = client.http.post(
        "/support-tickets", headers=customer.headers, body=json.dumps({"subject": subject, "body": "b"})
    )
    assert response.status_code == 201
    return json.loads(response.body)["id"]


def test_the_trail_pages_newest_first(client, new_customer):
    customer = new_customer()
    ids = [_open_ticket(client, customer, f"t{i}") for i in range(3)]
    seen, query = [], "?limit=2"
    while True:
        page = _events(client, customer.headers, query)
        seen += [e["target_id"] for e in page["items"] if e["action"] == "support_ticket.created"]
        if page["next_cursor"] is None:
            break
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == ids[::-1]


def test_an_event_has_the_contract_shape(client, new_customer):
    customer = new_customer()
    _open_ticket(client, customer, "shape")
    event = _events(client, customer.headers, "?limit=1")["items"][0]
    assert {"id", "occurred_at", "actor", "action", "target_type", "target_id", "detail"} <= set(event)
    assert event["action"] == "support_ticket.created" and event["detail"] == {"priority": "normal"}


def test_another_tenants_events_are_invisible(client, new_customer):
    mine, theirs = new_customer(), new_customer()
    their_ticket = _open_ticket(client, theirs, "theirs")
    assert all(e["target_id"] != their_ticket for e in _events(client, mine.headers, "?limit=100")["items"])


@pytest.mark.parametrize("query", ["?limit=0", "?limit=1000", "?limit=x", "?cursor=%25%25", "?since=yesterday"])
def test_bad_queries_are_400(client, new_customer, query):
    assert client.http.get(f"/audit-events{query}", headers=new_customer().headers).status_code == 400


def test_customers_only(client, operator_headers):
    assert client.http.get("/audit-events").status_code == 401
    assert client.http.get("/audit-events", headers=operator_headers).status_code == 403
