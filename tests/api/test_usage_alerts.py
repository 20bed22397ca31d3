"""Usage alerts (issue 14, part D): the routes, and the firing at ingestion, once per alert and month."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from chalicelib.alerts import service as alerts
from chalicelib.alerts.models import UsageAlertPage, UsageAlertResponse
from chalicelib.core.periods import Period
from chalicelib.metering import service as metering
from tests.billing_support import at, event


def create(client, headers, metric="api_calls", threshold="100"):
    response = client.http.post(
        "/usage-alerts", headers=headers, body=json.dumps({"metric": metric, "threshold": threshold})
    )
    return response.status_code, json.loads(response.body) if response.body else None


def listed(client, headers, query=""):
    response = client.http.get(f"/usage-alerts{query}", headers=headers)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def delete(client, headers, alert_id):
    return client.http.delete(f"/usage-alerts/{alert_id}", headers=headers).status_code


def emails(admin_conn, customer_id):
    return admin_conn.execute(
        "SELECT template, recipient, subject, text_body, idempotency_key, related_type, related_id"
        " FROM notifications WHERE customer_id = %s AND template = 'usage_threshold_reached' ORDER BY created_at",
        (customer_id,),
    ).fetchall()


def audited(admin_conn, customer_id, action):
    return admin_conn.execute(
        "SELECT target_id, detail FROM audit_events WHERE customer_id = %s AND action = %s ORDER BY chain_seq",
        (customer_id, action),
    ).fetchall()


def this_month() -> Period:
    return Period.containing(datetime.now(UTC))


def recent() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=30)


# ---------------------------------------------------------------- the routes


def test_an_alert_is_created_listed_and_deleted(client, new_customer, admin_conn):
    customer = new_customer()
    status, body = create(client, customer.headers, "compliance_scans", "2500.5")
    assert status == 201, body
    alert = UsageAlertResponse.model_validate(body)
    assert body["metric"] == "compliance_scans" and body["threshold"] == "2500.5"
    assert body["last_triggered_period"] is None and body["created_at"].endswith("Z")
    page = listed(client, customer.headers)
    UsageAlertPage.model_validate(page)
    assert [item["id"] for item in page["items"]] == [str(alert.id)] and page["next_cursor"] is None

    assert delete(client, customer.headers, alert.id) == 204
    assert listed(client, customer.headers)["items"] == []
    assert delete(client, customer.headers, alert.id) == 404
    created = audited(admin_conn, customer.customer_id, "usage_alert.created")
    deleted = audited(admin_conn, customer.customer_id, "usage_alert.deleted")
    assert [row["target_id"] for row in created] == [str(alert.id)] == [row["target_id"] for row in deleted]
    assert created[0]["detail"] == {"metric": "compliance_scans", "threshold": "2500.5"}


def test_the_list_is_paginated_newest_first(client, new_customer):
    customer = new_customer()
    ids = [create(client, customer.headers, threshold=str(n))[1]["id"] for n in (10, 20, 30)]
    first = listed(client, customer.headers, "?limit=2")
    assert [item["id"] for item in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = listed(client, customer.headers, f"?limit=2&cursor={first['next_cursor']}")
    assert [item["id"] for item in second["items"]] == ids[:1] and second["next_cursor"] is None
    assert client.http.get("/usage-alerts?limit=0", headers=customer.headers).status_code == 400
    assert client.http.get("/usage-alerts?cursor=garbage", headers=customer.headers).status_code == 400


@pytest.mark.parametrize(
    "body,status",
    [
        ({"metric": "page_views", "threshold": "100"}, 422),  # not a metric of the catalog
        ({"metric": "api_calls", "threshold": "0"}, 422),
        ({"metric": "api_calls", "threshold": "0.000000"}, 422),
        ({"metric": "api_calls", "threshold": "10000000001"}, 422),  # above a month's bound, 10^10
        ({"metric": "api_calls", "threshold": 100}, 400),  # a number, not a decimal string
        ({"metric": "api_calls", "threshold": "-5"}, 400),
        ({"metric": "api_calls", "threshold": "1.1234567"}, 400),  # 7 places: would need rounding
        ({"metric": "api_calls", "threshold": "1e3"}, 400),
        ({"metric": "api_calls", "threshold": "NaN"}, 400),
        ({"metric": "api_calls", "threshold": "\u0661\u0660"}, 400),  # Arabic-Indic digits
        ({"metric": "api_calls", "threshold": ""}, 400),
        ({"metric": "api_calls"}, 400),
        ({"threshold": "5"}, 400),
        ({"metric": "api_calls", "threshold": "5", "extra": 1}, 400),
    ],
)
def test_invalid_alerts_are_4xx(client, new_customer, body, status):
    customer = new_customer()
    response = client.http.post("/usage-alerts", headers=customer.headers, body=json.dumps(body))
    assert response.status_code == status, response.body
    assert listed(client, customer.headers)["items"] == []


def test_a_threshold_is_kept_exactly_and_a_duplicate_is_a_conflict(client, new_customer):
    customer = new_customer()
    assert create(client, customer.headers, threshold="9999999999.999999")[1]["threshold"] == "9999999999.999999"
    assert create(client, customer.headers, threshold="10000000000")[0] == 201
    assert create(client, customer.headers, threshold="100.50")[1]["threshold"] == "100.5"
    status, body = create(client, customer.headers, threshold="100.5")  # the same number
    assert status == 409, body


def test_a_tenant_has_at_most_twenty_alerts(client, new_customer):
    customer = new_customer("enterprise")  # its rate limits let 20 creations through at once
    for n in range(alerts.MAX_ALERTS_PER_TENANT):
        assert create(client, customer.headers, threshold=str(n + 1))[0] == 201
    status, body = create(client, customer.headers, threshold="1000")
    assert status == 409 and "20" in body["Message"]
    first = listed(client, customer.headers, "?limit=1")["items"][0]["id"]
    assert delete(client, customer.headers, first) == 204
    assert create(client, customer.headers, threshold="1000")[0] == 201


def test_another_tenants_alert_is_not_found(client, new_customer):
    owner, other = new_customer(), new_customer()
    _, alert = create(client, owner.headers)
    assert listed(client, other.headers)["items"] == []
    assert delete(client, other.headers, alert["id"]) == 404
    assert delete(client, other.headers, "not-a-uuid") == 404
    assert [item["id"] for item in listed(client, owner.headers)["items"]] == [alert["id"]]


# ---------------------------------------------------------------- firing at ingestion


def test_concurrent_batches_crossing_a_threshold_fire_it_once(client, new_customer, admin_conn):
    customer = new_customer()
    _, alert = create(client, customer.headers, threshold="100")
    period = this_month()
    # Eight batches of 20 units at once: the total passes 100 in one of them, whichever commits fifth.
    batches = [[event("api_calls", D(4), when=recent()) for _ in range(5)] for _ in range(8)]
    barrier = threading.Barrier(len(batches))
    failures: list[BaseException] = []

    def send(batch):
        barrier.wait()
        try:
            metering.ingest(customer.customer_id, batch)
        except Exception as exc:  # noqa: BLE001 - whatever the thread raises, the assertion below reports it
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    # More usage in the same month changes nothing.
    metering.ingest(customer.customer_id, [event("api_calls", D(500), when=recent())])

    sent = emails(admin_conn, customer.customer_id)
    assert len(sent) == 1
    assert sent[0]["recipient"] == customer.email and sent[0]["related_type"] == "usage_alert"
    assert sent[0]["idempotency_key"] == f"usage_alert:{alert['id']}:{period.label}"
    assert "api_calls" in sent[0]["subject"] and "100" in sent[0]["text_body"]
    triggered = audited(admin_conn, customer.customer_id, "usage_alert.triggered")
    assert len(triggered) == 1 and triggered[0]["target_id"] == alert["id"]
    detail = triggered[0]["detail"]
    assert (detail["alert_id"], detail["metric"], detail["threshold"], detail["period"]) == (
        alert["id"],
        "api_calls",
        "100",
        period.label,
    )
    assert 100 <= D(detail["usage"]) <= 160  # the total the firing batch reached
    assert listed(client, customer.headers)["items"][0]["last_triggered_period"] == period.label
    notifications = json.loads(client.http.get("/notifications", headers=customer.headers).body)["items"]
    assert [n["template"] for n in notifications].count("usage_threshold_reached") == 1


def test_a_new_month_fires_again_and_a_late_event_of_an_earlier_month_does_not(client, new_customer, admin_conn):
    customer = new_customer()
    _, alert = create(client, customer.headers, "compliance_scans", "10")
    older, old = this_month().previous().previous(), this_month().previous()
    metering.ingest(customer.customer_id, [event("compliance_scans", D(9), when=at(older))])
    assert emails(admin_conn, customer.customer_id) == []  # 9 < 10
    metering.ingest(customer.customer_id, [event("compliance_scans", D(1), when=at(older))])  # exactly 10
    metering.ingest(customer.customer_id, [event("compliance_scans", D(12), when=at(old))])
    # Late usage of the older month, after the alert fired for the later one: nothing more.
    metering.ingest(customer.customer_id, [event("compliance_scans", D(5), when=at(older, day=20))])
    keys = [row["idempotency_key"] for row in emails(admin_conn, customer.customer_id)]
    assert keys == [f"usage_alert:{alert['id']}:{older.label}", f"usage_alert:{alert['id']}:{old.label}"]
    assert listed(client, customer.headers)["items"][0]["last_triggered_period"] == old.label


def test_one_batch_over_two_months_fires_for_the_later_one(client, new_customer, admin_conn):
    customer = new_customer()
    _, alert = create(client, customer.headers, threshold="50")
    older, old = this_month().previous().previous(), this_month().previous()
    metering.ingest(
        customer.customer_id,
        [event("api_calls", D(60), when=at(older)), event("api_calls", D(70), when=at(old))],
    )
    sent = emails(admin_conn, customer.customer_id)
    assert [row["idempotency_key"] for row in sent] == [f"usage_alert:{alert['id']}:{old.label}"]
    assert "70" in sent[0]["text_body"]


def test_only_the_alerts_of_the_metric_and_threshold_reached_fire(client, new_customer, admin_conn):
    customer = new_customer()
    _, low = create(client, customer.headers, "api_calls", "10")
    create(client, customer.headers, "api_calls", "1000")
    create(client, customer.headers, "compliance_scans", "1")
    metering.ingest(customer.customer_id, [event("api_calls", D(11), when=recent())])
    assert [row["related_id"] for row in emails(admin_conn, customer.customer_id)] == [uuid.UUID(low["id"])]


def test_an_alert_created_below_the_months_usage_fires_with_the_next_usage(client, new_customer, admin_conn):
    customer = new_customer()
    metering.ingest(customer.customer_id, [event("api_calls", D(500), when=recent())])
    create(client, customer.headers, threshold="100")
    assert emails(admin_conn, customer.customer_id) == []
    metering.ingest(customer.customer_id, [event("api_calls", D(1), when=recent())])
    assert len(emails(admin_conn, customer.customer_id)) == 1


def test_a_deleted_alert_fires_no_more(client, new_customer, admin_conn):
    customer = new_customer()
    _, alert = create(client, customer.headers, threshold="5")
    assert delete(client, customer.headers, alert["id"]) == 204
    metering.ingest(customer.customer_id, [event("api_calls", D(50), when=recent())])
    assert emails(admin_conn, customer.customer_id) == []
    assert audited(admin_conn, customer.customer_id, "usage_alert.triggered") == []


def test_duplicate_events_do_not_fire_an_alert(client, new_customer, admin_conn):
    customer = new_customer()
    first = event("api_calls", D(50), when=recent(), event_id="same")
    metering.ingest(customer.customer_id, [first])
    create(client, customer.headers, threshold="10")
    metering.ingest(customer.customer_id, [first])  # a duplicate: nothing accepted, no total changed
    assert emails(admin_conn, customer.customer_id) == []


def test_one_tenants_usage_never_fires_another_tenants_alert(client, new_customer, admin_conn):
    owner, other = new_customer(), new_customer()
    create(client, owner.headers, threshold="1")
    metering.ingest(other.customer_id, [event("api_calls", D(100), when=recent())])
    assert emails(admin_conn, owner.customer_id) == []
    assert emails(admin_conn, other.customer_id) == []


def test_a_rejected_batch_fires_nothing(client, new_customer, admin_conn):
    customer = new_customer()
    create(client, customer.headers, threshold="1")
    batch = [
        {"event_id": "ok", "metric": "api_calls", "quantity": 10, "timestamp": recent().isoformat()},
        {"event_id": "bad", "metric": "nope", "quantity": 1, "timestamp": recent().isoformat()},
    ]
    response = client.http.post("/metrics", headers=customer.headers, body=json.dumps({"events": batch}))
    assert response.status_code == 422
    assert emails(admin_conn, customer.customer_id) == []
    assert listed(client, customer.headers)["items"][0]["last_triggered_period"] is None


# ---------------------------------------------------------------- the webhook


@pytest.fixture
def receiver():
    """A local endpoint (the local stack accepts http://127.0.0.1) recording what it is sent, answering 204."""
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_a_firing_emits_one_signed_threshold_webhook(client, new_customer, admin_conn, receiver):
    url, received = receiver
    customer = new_customer()
    endpoint = client.http.post(
        "/webhook-endpoints",
        headers=customer.headers,
        body=json.dumps({"url": url, "events": ["usage.threshold_reached"], "description": "alerts"}),
    )
    assert endpoint.status_code == 201, endpoint.body
    secret = json.loads(endpoint.body)["secret"]
    _, alert = create(client, customer.headers, threshold="30")
    batches = [[event("api_calls", D(10), when=recent())] for _ in range(6)]
    barrier = threading.Barrier(len(batches))

    def send(batch):
        barrier.wait()
        metering.ingest(customer.customer_id, batch)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    metering.ingest(customer.customer_id, [event("api_calls", D(100), when=recent())])

    stored = admin_conn.execute(
        "SELECT id, data FROM webhook_events WHERE customer_id = %s AND type = 'usage.threshold_reached'",
        (customer.customer_id,),
    ).fetchall()
    assert len(stored) == 1
    data = stored[0]["data"]
    assert (data["alert_id"], data["metric"], data["threshold"], data["period"]) == (
        alert["id"],
        "api_calls",
        "30",
        this_month().label,
    )
    assert D(data["usage"]) in {D(30), D(40), D(50), D(60)}
    # Sent at once after the commit (best effort), once, signed per Standard Webhooks.
    assert len(received) == 1
    headers, body = received[0]
    document = Webhook(secret).verify(body, headers)
    assert document["type"] == "usage.threshold_reached" and document["data"] == data
    assert document["id"] == str(stored[0]["id"]) and document["customer_id"] == str(customer.customer_id)


def test_a_firing_without_a_subscribed_endpoint_stores_no_webhook_event(client, new_customer, admin_conn):
    customer = new_customer()
    create(client, customer.headers, threshold="1")
    metering.ingest(customer.customer_id, [event("api_calls", D(5), when=recent())])
    assert len(emails(admin_conn, customer.customer_id)) == 1
    assert (
        admin_conn.execute(
            "SELECT count(*) AS n FROM webhook_events WHERE customer_id = %s", (customer.customer_id,)
        ).fetchone()["n"]
        == 0
    )
