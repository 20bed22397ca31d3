"""``/webhook-endpoints``: endpoints, signed deliveries to a local receiver, attempts, retries (issue 14, part C).

Every delivery here goes over real HTTP to ``tests.webhook_receiver`` on
127.0.0.1 (the local stack allows it: ``WEBHOOKS_ALLOW_LOCAL``), and every
signature is checked with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import json
import uuid

import pytest
import standardwebhooks

from chalicelib.core import db
from chalicelib.webhooks import delivery, repository, service, urls
from tests.webhook_receiver import start_receiver

JSON = {"Content-Type": "application/json"}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "attempt",
    "status_code",
    "succeeded",
    "created_at",
    "next_attempt_at",
}


@pytest.fixture(scope="module")
def receiver():
    receiver, server, thread = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def create_endpoint(client, customer, url, events=("api_key.created",), description="ours"):
    body = {"url": url, "events": list(events), "description": description}
    response = client.http.post("/webhook-endpoints", headers=customer.headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body or "null")


def make_key(client, customer, name="hooked"):
    response = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": name}))
    assert response.status_code == 201, response.body
    return json.loads(response.body)


def deliveries(client, customer, endpoint_id, query=""):
    response = client.http.get(f"/webhook-endpoints/{endpoint_id}/deliveries{query}", headers=customer.headers)
    return response.status_code, json.loads(response.body)


def verified(secret, request):
    """The body, verified by standardwebhooks (an implementation that is not ours)."""
    return standardwebhooks.Webhook(secret).verify(request.body, request.headers)


def test_a_registered_endpoint_receives_signed_key_events(client, new_customer, receiver, admin_conn):
    customer = new_customer()
    url = receiver.url("ok")
    status, endpoint = create_endpoint(client, customer, url, events=("api_key.created", "api_key.revoked"))
    assert status == 201, endpoint
    assert endpoint["secret"].startswith("whsec_")
    assert {endpoint["url"], endpoint["description"], tuple(endpoint["events"])} >= {url, "ours"}

    key = make_key(client, customer)
    [request] = receiver.wait_for(url)
    document = verified(endpoint["secret"], request)
    assert list(document) == ["id", "type", "created_at", "customer_id", "data"]
    assert document["type"] == "api_key.created" and document["customer_id"] == str(customer.customer_id)
    assert request.headers["webhook-id"] == document["id"]
    assert document["data"]["id"] == key["id"] and document["data"]["role"] == "developer"
    assert key["key"] not in request.body.decode() and "key" not in document["data"]

    assert client.http.delete(f"/api-keys/{key['id']}", headers=customer.headers).status_code == 204
    revoked = receiver.wait_for(url, 2)[1]
    assert verified(endpoint["secret"], revoked)["type"] == "api_key.revoked"
    assert verified(endpoint["secret"], revoked)["data"]["revoked_at"] is not None

    status, page = deliveries(client, customer, endpoint["id"])
    assert status == 200 and page["next_cursor"] is None
    assert [d["event_type"] for d in page["items"]] == ["api_key.revoked", "api_key.created"]  # newest first
    for record in page["items"]:
        assert set(record) == DELIVERY_FIELDS
        assert record["succeeded"] is True and record["status_code"] == 200
        assert record["attempt"] == 1 and record["next_attempt_at"] is None
    assert page["items"][1]["event_id"] == document["id"]
    # The secret is KMS ciphertext at rest, never the key.
    sealed = admin_conn.execute(
        "SELECT secret_sealed FROM webhook_endpoints WHERE id = %s", (endpoint["id"],)
    ).fetchone()["secret_sealed"]
    raw = __import__("base64").b64decode(endpoint["secret"].removeprefix("whsec_"))
    assert sealed and raw not in bytes(sealed)


def test_the_list_never_shows_a_secret_and_pages(client, new_customer, receiver):
    customer = new_customer()
    made = [create_endpoint(client, customer, receiver.url("ok"))[1]["id"] for _ in range(3)]
    response = client.http.get("/webhook-endpoints?limit=2", headers=customer.headers)
    first = json.loads(response.body)
    assert response.status_code == 200 and len(first["items"]) == 2 and first["next_cursor"]
    second = json.loads(
        client.http.get(f"/webhook-endpoints?limit=2&cursor={first['next_cursor']}", headers=customer.headers).body
    )
    listed = [item["id"] for item in first["items"] + second["items"]]
    assert listed == list(reversed(made)) and second["next_cursor"] is None
    assert all("secret" not in item for item in first["items"] + second["items"])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "URL", "events": ["invoice.deleted"]}, 422),
        ({"url": "URL", "events": []}, 422),
        ({"url": "URL", "events": ["invoice.paid", "invoice.paid"]}, 422),
        ({"url": "https://10.0.0.1/hook", "events": ["invoice.paid"]}, 422),
        ({"url": "http://169.254.169.254/latest/meta-data/", "events": ["invoice.paid"]}, 422),
        ({"url": "http://localhost:9/hook", "events": ["invoice.paid"]}, 422),
        ({"url": "ftp://127.0.0.1/hook", "events": ["invoice.paid"]}, 422),
        ({"events": ["invoice.paid"]}, 400),
        ({"url": "URL", "events": "invoice.paid"}, 400),
        ({"url": "URL", "events": ["invoice.paid"], "extra": 1}, 400),
        ({"url": "URL", "events": ["invoice.paid"], "description": "d" * 501}, 400),
    ],
)
def test_bad_endpoints_are_refused(client, new_customer, receiver, body, status):
    customer = new_customer()
    if body.get("url") == "URL":
        body = {**body, "url": receiver.url("ok")}
    response = client.http.post("/webhook-endpoints", headers=customer.headers, body=json.dumps(body))
    assert response.status_code == status, response.body


def test_a_tenant_has_at_most_ten_endpoints(client, new_customer, receiver):
    customer = new_customer()
    for _ in range(service.MAX_ENDPOINTS):
        assert create_endpoint(client, customer, receiver.url("ok"))[0] == 201
    assert create_endpoint(client, customer, receiver.url("ok"))[0] == 409
    first = json.loads(client.http.get("/webhook-endpoints", headers=customer.headers).body)["items"][0]["id"]
    assert client.http.delete(f"/webhook-endpoints/{first}", headers=customer.headers).status_code == 204
    assert create_endpoint(client, customer, receiver.url("ok"))[0] == 201


def test_only_subscribed_events_are_stored_and_sent(client, new_customer, receiver, admin_conn):
    customer = new_customer()
    url = receiver.url("ok")
    create_endpoint(client, customer, url, events=("invoice.finalized",))
    make_key(client, customer)
    assert receiver.received(url) == []
    stored = admin_conn.execute(
        "SELECT count(*) AS n FROM webhook_events WHERE customer_id = %s", (customer.customer_id,)
    )
    assert stored.fetchone()["n"] == 0


def test_a_failed_attempt_is_recorded_with_its_next_attempt_and_retried_by_hand(client, new_customer, receiver):
    customer = new_customer()
    url = receiver.url("flaky")
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    [failed] = deliveries(client, customer, endpoint["id"])[1]["items"]
    assert (failed["succeeded"], failed["status_code"], failed["attempt"]) == (False, 503, 1)
    assert failed["next_attempt_at"] is not None and failed["next_attempt_at"] > failed["created_at"]

    response = client.http.post(
        f"/webhook-endpoints/{endpoint['id']}/deliveries/{failed['id']}/retry", headers=customer.headers, body="{}"
    )
    assert response.status_code == 200, response.body
    retried = json.loads(response.body)
    assert set(retried) == DELIVERY_FIELDS
    assert (retried["succeeded"], retried["status_code"], retried["attempt"]) == (True, 200, 2)
    assert retried["event_id"] == failed["event_id"] and retried["next_attempt_at"] is None
    first, second = receiver.received(url)
    # The same event (webhook-id) and body on both attempts, each signed afresh.
    assert first.headers["webhook-id"] == second.headers["webhook-id"] and first.body == second.body
    verified(endpoint["secret"], second)
    items = deliveries(client, customer, endpoint["id"])[1]["items"]
    assert [item["attempt"] for item in items] == [2, 1]


def test_the_job_sends_what_is_due_and_gives_up_after_the_last_attempt(client, new_customer, receiver, admin_conn):
    customer = new_customer()
    url = receiver.url("fail")
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    [row] = admin_conn.execute(
        "SELECT id, event_id, status, attempts FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint["id"],)
    ).fetchall()
    assert (row["status"], row["attempts"]) == ("failed", 1)
    # Not due yet: the job leaves it alone.
    assert delivery.deliver_due(event_ids=[row["event_id"]]).failed == 0
    admin_conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = %s", (row["id"],))
    delivery._keys.clear()  # the job's process opens the key with KMS
    report = delivery.deliver_due(event_ids=[row["event_id"]])
    assert report.failed == 1 and len(receiver.received(url)) == 2
    verified(endpoint["secret"], receiver.received(url)[1])
    # The seventh failure is the last.
    admin_conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now(), attempts = %s WHERE id = %s",
        (delivery.MAX_ATTEMPTS - 1, row["id"]),
    )
    delivery.deliver_due(event_ids=[row["event_id"]])
    final = admin_conn.execute(
        "SELECT status, attempts, next_attempt_at FROM webhook_deliveries WHERE id = %s", (row["id"],)
    ).fetchone()
    assert (final["status"], final["attempts"], final["next_attempt_at"]) == ("dead", delivery.MAX_ATTEMPTS, None)
    newest = deliveries(client, customer, endpoint["id"])[1]["items"][0]
    assert (newest["attempt"], newest["succeeded"], newest["next_attempt_at"]) == (delivery.MAX_ATTEMPTS, False, None)


def test_a_delivery_under_a_lease_is_not_sent_twice(client, new_customer, receiver, admin_conn):
    customer = new_customer()
    url = receiver.url("fail")
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    row = admin_conn.execute("SELECT id, event_id FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint["id"],))
    row = row.fetchone()
    admin_conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = %s", (row["id"],))
    with db.operator_transaction() as conn:
        held = repository.claim_due(conn, row["id"], lease_s=60)
    assert held is not None
    with db.operator_transaction() as conn:
        assert repository.claim_due(conn, row["id"], lease_s=60) is None
    assert delivery.deliver_due(event_ids=[row["event_id"]]).failed == 0
    assert len(receiver.received(url)) == 1
    retry = client.http.post(
        f"/webhook-endpoints/{endpoint['id']}/deliveries/"
        f"{deliveries(client, customer, endpoint['id'])[1]['items'][0]['id']}/retry",
        headers=customer.headers,
    )
    assert retry.status_code == 409


def test_redirects_are_not_followed(client, new_customer, receiver):
    customer = new_customer()
    url = receiver.url("redirect")
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    [record] = deliveries(client, customer, endpoint["id"])[1]["items"]
    assert (record["status_code"], record["succeeded"]) == (302, False)
    assert receiver.received_under("/redirected/") == []


@pytest.mark.parametrize("behaviour", ["big", "binary"])
def test_only_a_short_prefix_of_the_answer_is_kept(client, new_customer, receiver, admin_conn, behaviour):
    customer = new_customer()
    url = receiver.url(behaviour)
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    [stored] = admin_conn.execute(
        "SELECT response_prefix, succeeded FROM webhook_delivery_attempts WHERE endpoint_id = %s", (endpoint["id"],)
    ).fetchall()
    assert stored["succeeded"] and 0 < len(stored["response_prefix"]) <= urls.RESPONSE_PREFIX_CHARS
    assert "\x00" not in stored["response_prefix"]


@pytest.mark.parametrize("behaviour", ["slow", "trickle"])
def test_an_endpoint_that_does_not_answer_in_time_is_a_failed_attempt(
    client, new_customer, receiver, monkeypatch, behaviour
):
    monkeypatch.setattr(urls, "TIMEOUT_S", 0.5)
    customer = new_customer()
    url = receiver.url(behaviour)
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    [record] = deliveries(client, customer, endpoint["id"])[1]["items"]
    assert record["succeeded"] is False and record["status_code"] is None
    assert record["next_attempt_at"] is not None


def test_another_tenant_cannot_see_or_touch_an_endpoint(client, new_customer, receiver):
    a, b = new_customer(), new_customer()
    endpoint = create_endpoint(client, a, receiver.url("ok"))[1]
    make_key(client, a)
    [record] = deliveries(client, a, endpoint["id"])[1]["items"]
    assert deliveries(client, b, endpoint["id"])[0] == 404
    retry = f"/webhook-endpoints/{endpoint['id']}/deliveries/{record['id']}/retry"
    assert client.http.post(retry, headers=b.headers).status_code == 404
    assert client.http.delete(f"/webhook-endpoints/{endpoint['id']}", headers=b.headers).status_code == 404
    assert json.loads(client.http.get("/webhook-endpoints", headers=b.headers).body)["items"] == []
    assert client.http.post(retry, headers=a.headers).status_code == 200


def test_nothing_is_sent_to_a_deleted_endpoint(client, new_customer, receiver, admin_conn):
    customer = new_customer()
    url = receiver.url("fail")
    endpoint = create_endpoint(client, customer, url)[1]
    make_key(client, customer)
    receiver.wait_for(url)
    [record] = deliveries(client, customer, endpoint["id"])[1]["items"]
    assert client.http.delete(f"/webhook-endpoints/{endpoint['id']}", headers=customer.headers).status_code == 204
    assert client.http.delete(f"/webhook-endpoints/{endpoint['id']}", headers=customer.headers).status_code == 404
    row = admin_conn.execute(
        "SELECT d.status, d.next_attempt_at, e.secret_sealed FROM webhook_deliveries d"
        " JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.endpoint_id = %s",
        (endpoint["id"],),
    ).fetchone()
    assert (row["status"], row["next_attempt_at"], row["secret_sealed"]) == ("dead", None, None)
    make_key(client, customer)
    # Even a delivery that would be due (say, emitted while the deletion committed) is never sent.
    admin_conn.execute(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = now() WHERE endpoint_id = %s",
        (endpoint["id"],),
    )
    delivery.deliver_due(event_ids=[uuid.UUID(record["event_id"])])
    assert len(receiver.received(url)) == 1
    assert deliveries(client, customer, endpoint["id"])[0] == 404
    retry = f"/webhook-endpoints/{endpoint['id']}/deliveries/{record['id']}/retry"
    assert client.http.post(retry, headers=customer.headers).status_code == 404
    audit = admin_conn.execute(
        "SELECT action FROM audit_events WHERE customer_id = %s AND target_id = %s ORDER BY chain_seq",
        (customer.customer_id, endpoint["id"]),
    ).fetchall()
    assert [r["action"] for r in audit] == ["webhook_endpoint.created", "webhook_endpoint.deleted"]
