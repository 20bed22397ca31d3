"""Issue 11, item 14: what each path does when DynamoDB or SES cannot serve.

The outages are injected at the local AWS endpoint (``LocalAws.outage``): it
answers ``503 ServiceUnavailable`` to every call signed for the service, as
an AWS endpoint does when the service cannot serve; everything else works.
PostgreSQL stays the authority on keys, sessions and revocation, so:

* authentication on a verification-cache miss still works (bcrypt against
  PostgreSQL), and its refresh token with it (sessions and refresh tokens
  live in PostgreSQL: migration 0044);
* every authenticated request still works (the guard reads PostgreSQL only);
  rate limiting fails open, with a log line and the DependencyDegraded metric;
* logout and key revocation still end sessions at once;
* a refresh works, once: single use and reuse detection need no DynamoDB;
* e-mails stay queued through an SES outage and are sent once afterwards.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import aws, db
from chalicelib.notifications import service as notifications


@pytest.fixture
def outage(stack):
    """``with outage("dynamodb"): ...`` — and every breaker closed again afterwards."""
    aws.reset_breakers()
    yield stack.aws.outage
    aws.reset_breakers()


def _authenticate(client, api_key):
    response = client.http.post(
        "/auth/authenticate", headers={"Content-Type": "application/json"}, body=json.dumps({"api_key": api_key})
    )
    return response.status_code, json.loads(response.body) if response.body else None


def _bearer(token):
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _degraded(caplog, fallback):
    return [
        r
        for r in caplog.records
        if r.getMessage() == "dependency degraded" and getattr(r, "fallback", None) == fallback
    ]


def test_authentication_on_a_cache_miss_works_from_postgresql_during_a_dynamodb_outage(
    client, new_customer, outage, caplog
):
    customer = new_customer()
    created = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "during-outage"}))
    assert created.status_code == 201
    key = json.loads(created.body)["key"]
    caplog.set_level(logging.WARNING)
    with outage("dynamodb") as faults:
        status, pair = _authenticate(client, key)  # never cached anywhere: a miss
        assert status == 200, pair
        me = client.http.get("/customers/me", headers=_bearer(pair["token"]))
        assert me.status_code == 200
        assert json.loads(me.body)["id"] == str(customer.customer_id)
        assert faults.refused.get("dynamodb", 0) >= 1  # the outage was really in the way
    assert _degraded(caplog, "auth_cache_miss")
    assert _degraded(caplog, "auth_cache_not_filled")
    aws.reset_breakers()  # the outage is over; a new process would not remember it either
    # The session's refresh token was recorded with the session, in PostgreSQL: it works, once.
    body = json.dumps({"refresh_token": pair["refresh_token"]})
    refreshed = client.http.post("/auth/refresh", headers={"Content-Type": "application/json"}, body=body)
    assert refreshed.status_code == 200, refreshed.body
    assert client.http.post("/auth/refresh", headers={"Content-Type": "application/json"}, body=body).status_code == 401


def test_requests_go_on_and_rate_limiting_fails_open_with_a_log_line(client, new_customer, outage, caplog):
    customer = new_customer()
    caplog.set_level(logging.WARNING)
    stamp = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    with outage("dynamodb"):
        for i in range(3):
            sent = client.http.post(
                "/metrics",
                headers=customer.headers,
                body=json.dumps(
                    {"events": [{"event_id": f"o-{i}", "metric": "api_calls", "quantity": 2, "timestamp": stamp}]}
                ),
            )
            assert sent.status_code == 200, sent.body
        read = client.http.get("/metrics", headers=customer.headers)
        assert read.status_code == 200
        health = client.http.get("/health")
        assert health.status_code == 503
        assert json.loads(health.body)["cache"] == "down"
    assert _degraded(caplog, "rate_limit_open")
    usage = {m["metric"]: m["quantity"] for m in json.loads(read.body)["metrics"]}
    assert usage["api_calls"] == "6"


def test_a_refresh_during_the_outage_works_once_and_its_reuse_still_ends_the_family(client, new_customer, outage):
    customer = new_customer()
    body = json.dumps({"refresh_token": customer.refresh_token})
    with outage("dynamodb") as faults:
        accepted = client.http.post("/auth/refresh", headers={"Content-Type": "application/json"}, body=body)
        assert accepted.status_code == 200, accepted.body
        pair = json.loads(accepted.body)
        assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 200
        reused = client.http.post("/auth/refresh", headers={"Content-Type": "application/json"}, body=body)
        assert reused.status_code == 401
        assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401  # family ended
        again = json.dumps({"refresh_token": pair["refresh_token"]})
        assert (
            client.http.post("/auth/refresh", headers={"Content-Type": "application/json"}, body=again).status_code
            == 401
        )
        assert faults.refused.get("dynamodb", 0) >= 1  # the outage was in the way (the rate limiter's calls)


def test_logout_and_key_revocation_still_end_sessions_at_once(client, new_customer, outage):
    customer = new_customer()
    created = client.http.post("/api-keys", headers=customer.headers, body=json.dumps({"name": "to-revoke"}))
    second = json.loads(created.body)
    status, pair = _authenticate(client, second["key"])
    assert status == 200
    status, other = _authenticate(client, customer.api_key)
    assert status == 200
    with outage("dynamodb"):
        assert client.http.post("/auth/logout", headers=_bearer(other["token"])).status_code == 204
        assert client.http.get("/customers/me", headers=_bearer(other["token"])).status_code == 401
        revoked = client.http.delete(f"/api-keys/{second['id']}", headers=customer.headers)
        assert revoked.status_code == 204
        assert client.http.get("/customers/me", headers=_bearer(pair["token"])).status_code == 401
        again, _ = _authenticate(client, second["key"])
        assert again == 401
    aws.reset_breakers()
    # Afterwards too: the cache entry the outage kept us from deleting cannot bring the key back.
    assert _authenticate(client, second["key"])[0] == 401
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 200


def test_emails_stay_queued_through_an_ses_outage_and_are_sent_once_afterwards(
    make_customer, admin_conn, outage, stack
):
    from tests.billing_support import moto_ses_messages

    customer_id = make_customer()
    recipients = [f"{uuid.uuid4().hex}@ex.test" for _ in range(3)]
    ids = []
    for recipient in recipients:
        with db.tenant_transaction(customer_id) as conn:
            ids.append(
                notifications.queue_email(
                    conn,
                    customer_id=customer_id,
                    template="test_message",
                    recipient=recipient,
                    subject="Hello",
                    text_body="body",
                    idempotency_key=uuid.uuid4().hex,
                )
            )
    with outage("ses") as faults:
        report = notifications.deliver_pending(customer_id=customer_id)
        assert (report.sent, report.failed, report.deferred) == (0, 0, 1)  # the run stops at the outage
        assert faults.refused["ses"] >= 1
        report = notifications.deliver_pending(customer_id=customer_id)  # within the breaker's cooldown
        assert report.sent == 0 and report.failed == 0
    rows = admin_conn.execute("SELECT status, attempts FROM notifications WHERE id = ANY(%s)", (ids,)).fetchall()
    assert {(r["status"], r["attempts"]) for r in rows} == {("queued", 0)}
    aws.reset_breakers()
    report = notifications.deliver_pending(customer_id=customer_id)
    assert report.sent == 3
    assert notifications.deliver_pending(customer_id=customer_id).sent == 0
    rows = admin_conn.execute("SELECT status, attempts FROM notifications WHERE id = ANY(%s)", (ids,)).fetchall()
    assert {(r["status"], r["attempts"]) for r in rows} == {("sent", 1)}
    for recipient in recipients:
        assert len(moto_ses_messages(stack, recipient)) == 1


def test_a_message_the_client_refuses_is_failed_and_never_stops_the_others(make_customer, admin_conn, outage):
    """Not every botocore error is an outage: a message that fails validation must not block the queue."""
    customer_id = make_customer()
    bad = admin_conn.execute(
        "INSERT INTO notifications (customer_id, template, recipient, subject, text_body, idempotency_key)"
        " VALUES (%s, 'test_message', 'bad@ex.test', 'No body', NULL, %s) RETURNING id",
        (customer_id, uuid.uuid4().hex),
    ).fetchone()["id"]
    with db.tenant_transaction(customer_id) as conn:
        good = notifications.queue_email(
            conn,
            customer_id=customer_id,
            template="test_message",
            recipient=f"{uuid.uuid4().hex}@ex.test",
            subject="Fine",
            text_body="body",
            idempotency_key=uuid.uuid4().hex,
        )
    report = notifications.deliver_pending(customer_id=customer_id)
    assert (report.sent, report.failed, report.deferred) == (1, 1, 0)
    rows = {
        r["id"]: r
        for r in admin_conn.execute(
            "SELECT id, status, error FROM notifications WHERE id = ANY(%s)", ([bad, good],)
        ).fetchall()
    }
    assert rows[good]["status"] == "sent"
    assert rows[bad]["status"] == "failed" and "ParamValidationError" in rows[bad]["error"]
    assert notifications.deliver_pending(customer_id=customer_id).sent == 0


def test_a_degradation_emits_the_metric_the_alarms_watch(monkeypatch, capsys):
    """DependencyDegraded with the dimensions the CloudWatch alarms name (service + dependency)."""
    from chalicelib.core.observability import dependency_degraded

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    dependency_degraded("dynamodb", "rate_limit_open", aws.DependencyUnavailable("dynamodb"))
    emf = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "DependencyDegraded" in line
    ]
    assert len(emf) == 1
    assert emf[0]["DependencyDegraded"] in (1, [1])
    assert (emf[0]["service"], emf[0]["dependency"]) == ("saas-api", "dynamodb")
    [directive] = emf[0]["_aws"]["CloudWatchMetrics"]
    assert sorted(directive["Dimensions"][0]) == ["dependency", "service"]
