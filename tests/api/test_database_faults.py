"""Issue 11, item 13: a lost database connection is retried once, then a 503 — never a 500.

The faults are real: a request is made to wait inside its transaction (on a
lock the test holds) and its PostgreSQL backend is then terminated, as an
Aurora failover or an RDS Proxy reset does to every connection at once.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from chalice.test import Client

from chalicelib.core import db

WAITING = """
SELECT pid FROM pg_stat_activity
 WHERE usename = 'saas_app_user' AND wait_event_type = 'Lock' AND state = 'active'
"""


def _freeze_lock(admin_conn, period_start: str) -> None:
    """Hold the period's ``freeze`` lock (as a finalizing billing run does): ingestion into it waits."""
    admin_conn.execute("SELECT pg_advisory_lock(billing_period_lock_key('freeze', %s::date))", (period_start,))


def _release_freeze_lock(admin_conn, period_start: str) -> None:
    admin_conn.execute("SELECT pg_advisory_unlock(billing_period_lock_key('freeze', %s::date))", (period_start,))


def _waiting_backend(admin_conn, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin_conn.execute(WAITING).fetchone()
        if row is not None:
            return row["pid"]
        time.sleep(0.02)
    raise AssertionError("the request never reached the database lock")


def _terminate(admin_conn, pid: int) -> None:
    """Terminate ``pid`` and wait until PostgreSQL has removed it (until then it still shows as waiting)."""
    admin_conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    while admin_conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
        time.sleep(0.01)


def _in_background(chalice_app, method: str, path: str, headers: dict, body: dict) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def call() -> None:
        with Client(chalice_app) as background:
            response = getattr(background.http, method)(path, headers=headers, body=json.dumps(body))
        outcome["status"] = response.status_code
        outcome["headers"] = dict(response.headers)
        outcome["body"] = json.loads(response.body) if response.body else None

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def _batch(prefix: str, n: int) -> dict:
    stamp = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return {
        "events": [
            {"event_id": f"{prefix}-{i}", "metric": "api_calls", "quantity": 1, "timestamp": stamp} for i in range(n)
        ]
    }


def _period_start() -> str:
    return datetime.now(UTC).strftime("%Y-%m-01")


def _api_calls(client, headers) -> str:
    response = client.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.body
    usage = {m["metric"]: m["quantity"] for m in json.loads(response.body)["metrics"]}
    return usage.get("api_calls", "0")


def test_a_connection_killed_mid_transaction_is_retried_once_and_counts_once(
    chalice_app, client, new_customer, admin_conn
):
    customer = new_customer()
    period = _period_start()
    _freeze_lock(admin_conn, period)
    try:
        thread, outcome = _in_background(chalice_app, "post", "/metrics", customer.headers, _batch("kill-once", 5))
        first = _waiting_backend(admin_conn)
        _terminate(admin_conn, first)
        # The retry runs on a fresh connection and waits on the same lock again.
        second = _waiting_backend(admin_conn)
        assert second != first
    finally:
        _release_freeze_lock(admin_conn, period)
    thread.join(30)
    assert outcome["status"] == 200, outcome
    assert outcome["body"] == {"accepted": 5, "duplicates": 0}
    assert _api_calls(client, customer.headers) == "5"


def test_a_second_loss_is_a_503_with_retry_after_and_the_client_retry_counts_once(
    chalice_app, client, new_customer, admin_conn
):
    customer = new_customer()
    period = _period_start()
    batch = _batch("kill-twice", 4)
    _freeze_lock(admin_conn, period)
    try:
        thread, outcome = _in_background(chalice_app, "post", "/metrics", customer.headers, batch)
        for _ in range(2):
            _terminate(admin_conn, _waiting_backend(admin_conn))
        thread.join(30)
    finally:
        _release_freeze_lock(admin_conn, period)
    assert outcome["status"] == 503, outcome
    assert outcome["body"]["Code"] == "ServiceUnavailableError"
    assert int(outcome["headers"]["Retry-After"]) >= 1
    assert _api_calls(client, customer.headers) == "0"  # nothing of the refused batch was kept
    retried = client.http.post("/metrics", headers=customer.headers, body=json.dumps(batch))
    assert retried.status_code == 200
    assert json.loads(retried.body) == {"accepted": 4, "duplicates": 0}
    again = client.http.post("/metrics", headers=customer.headers, body=json.dumps(batch))
    assert json.loads(again.body) == {"accepted": 0, "duplicates": 4}
    assert _api_calls(client, customer.headers) == "4"


def test_every_pooled_connection_killed_at_once_is_invisible_to_the_next_requests(client, new_customer, admin_conn):
    customer = new_customer()
    assert client.http.get("/customers/me", headers=customer.headers).status_code == 200
    killed = admin_conn.execute(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
        " WHERE usename = 'saas_app_user'"
    ).fetchone()["n"]
    assert killed >= 1
    for _ in range(3):
        assert client.http.get("/customers/me", headers=customer.headers).status_code == 200


def test_no_database_at_all_is_a_503_not_a_500(client, new_customer, monkeypatch):
    customer = new_customer()
    dead = db.make_pool("postgresql://saas_app_user@127.0.0.1:1/none", {"connect_timeout": 1}, min_size=0, max_size=1)
    dead.timeout = 1.0
    previous = db.use_pool(dead)
    try:
        response = client.http.get("/customers/me", headers=customer.headers)
    finally:
        db.use_pool(previous)
        dead.close()
    assert response.status_code == 503, response.body
    assert json.loads(response.body)["Code"] == "ServiceUnavailableError"
    assert response.headers["Retry-After"] == "1"


# ---------------------------------------------------------------- the retry rule itself
def test_work_that_committed_is_not_retried(stack):
    calls = []

    def work():
        calls.append(1)
        with db.plain_transaction() as conn:
            conn.execute("SELECT 1")
        raise psycopg.OperationalError("connection lost after a commit")

    with pytest.raises(psycopg.OperationalError):
        db.retry_once_if_lost(work)
    assert len(calls) == 1


def test_work_that_failed_before_committing_is_retried_once(stack):
    calls = []

    def work():
        calls.append(1)
        with db.plain_transaction() as conn:
            conn.execute("SELECT 1")
            raise psycopg.OperationalError("connection lost inside the transaction")

    with pytest.raises(psycopg.OperationalError):
        db.retry_once_if_lost(work)
    assert len(calls) == 2


class _CommitFails:
    """A connection whose COMMIT dies: the outcome of the transaction is unknown."""

    def transaction(self):
        class _Tx:
            def __enter__(self):
                return self

            def __exit__(self, kind, value, tb):
                if kind is None:
                    raise psycopg.OperationalError("server closed the connection during COMMIT")
                return False

        return _Tx()


def test_a_connection_lost_during_commit_is_not_retried():
    calls = []

    def work():
        calls.append(1)
        with db._unit(_CommitFails()):
            pass

    with pytest.raises(psycopg.OperationalError):
        db.retry_once_if_lost(work)
    assert len(calls) == 1


def test_commits_of_nested_retried_work_count_for_the_enclosing_attempt(stack):
    calls = []

    def inner():
        with db.plain_transaction() as conn:
            conn.execute("SELECT 1")

    def outer():
        calls.append(1)
        db.retry_once_if_lost(inner)
        raise psycopg.OperationalError("connection lost after the nested work committed")

    with pytest.raises(psycopg.OperationalError):
        db.retry_once_if_lost(outer)
    assert len(calls) == 1


def test_an_email_is_not_sent_twice_when_the_connections_die_while_ses_sends_it(
    make_customer, admin_url, stack, monkeypatch
):
    """The chaos run's find: a failover while SES accepted a message used to roll its 'sent' back."""
    import uuid

    from chalicelib.core import aws
    from chalicelib.notifications import mailer
    from chalicelib.notifications import service as notifications
    from tests.billing_support import moto_ses_messages

    customer_id = make_customer()
    recipient = f"{uuid.uuid4().hex}@ex.test"
    with db.tenant_transaction(customer_id) as conn:
        notification_id = notifications.queue_email(
            conn,
            customer_id=customer_id,
            template="test_message",
            recipient=recipient,
            subject="Hello",
            text_body="body",
            idempotency_key=uuid.uuid4().hex,
        )

    class FailoverDuringSend:
        def __init__(self):
            self.real = aws.client("ses")

        def send_email(self, **kwargs):
            answer = self.real.send_email(**kwargs)
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'saas_app_user'")
            return answer

    spy = FailoverDuringSend()
    monkeypatch.setattr(mailer.aws, "client", lambda service: spy if service == "ses" else aws.client(service))
    first = notifications.deliver_pending(customer_id=customer_id, notification_ids=[notification_id])
    assert first.sent == 1
    assert notifications.deliver_pending(customer_id=customer_id, notification_ids=[notification_id]).sent == 0
    with psycopg.connect(admin_url, autocommit=True) as admin:
        status = admin.execute("SELECT status FROM notifications WHERE id = %s", (notification_id,)).fetchone()[0]
    assert status == "sent"
    assert len(moto_ses_messages(stack, recipient)) == 1


def test_recording_a_sent_email_outlasts_a_short_outage_and_audits_once(make_customer, admin_url, stack, monkeypatch):
    """SES took it: the record is retried on fresh connections (idempotently) instead of letting the lease resend."""
    import uuid

    from chalicelib.notifications import repository
    from chalicelib.notifications import service as notifications
    from tests.billing_support import moto_ses_messages

    customer_id = make_customer()
    recipient = f"{uuid.uuid4().hex}@ex.test"
    with db.tenant_transaction(customer_id) as conn:
        notification_id = notifications.queue_email(
            conn,
            customer_id=customer_id,
            template="test_message",
            recipient=recipient,
            subject="Hello",
            text_body="body",
            idempotency_key=uuid.uuid4().hex,
            related_type="support_ticket",
            related_id=uuid.uuid4(),
        )
    real_mark_sent = repository.mark_sent
    failures = {"left": 3}  # the first attempt and its retry, then one more: three losses in a row

    def flaky_mark_sent(conn, *args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real_mark_sent(conn, *args, **kwargs)

    monkeypatch.setattr(repository, "mark_sent", flaky_mark_sent)
    assert notifications.deliver_pending(customer_id=customer_id, notification_ids=[notification_id]).sent == 1
    assert failures["left"] == 0
    with psycopg.connect(admin_url, autocommit=True) as admin:
        status = admin.execute("SELECT status FROM notifications WHERE id = %s", (notification_id,)).fetchone()[0]
        emailed = admin.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'support_ticket.emailed' AND detail->>'notification_id' = %s",
            (str(notification_id),),
        ).fetchone()[0]
    assert status == "sent" and emailed == 1
    assert len(moto_ses_messages(stack, recipient)) == 1
