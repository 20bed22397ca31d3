"""The billing schedules as Chalice registers and invokes them (chalice.test.Client)."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.billing import routes
from chalicelib.billing import service as billing
from chalicelib.notifications import routes as notification_routes
from tests.billing_support import EARLY_START, fresh_period, invoices_of


def schedule_expressions(app) -> dict[str, str]:
    return {
        source.name: source.schedule_expression.to_string()
        for source in app.event_sources
        if hasattr(source, "schedule_expression")
    }


def test_monthly_run_on_the_first_at_0200_daily_job_and_delivery_job_are_registered(chalice_app):
    expressions = schedule_expressions(chalice_app)
    assert expressions[routes.MONTHLY_RUN] == "cron(0 2 1 * ? *)"
    assert expressions[routes.DAILY_JOB] == "cron(0 3 * * ? *)"
    assert expressions[notification_routes.DELIVERY_JOB] == "rate(5 minutes)"


def test_the_delivery_schedule_sends_queued_emails(client, make_customer, admin_conn):
    from chalicelib.core import db
    from chalicelib.notifications import service as notifications

    cid = make_customer()
    with db.tenant_transaction(cid) as conn:
        notification_id = notifications.queue_email(
            conn,
            customer_id=cid,
            template="test_message",
            recipient="someone@example.test",
            subject="Hi",
            text_body="Hello",
            idempotency_key="schedule-test",
        )
    response = client.lambda_.invoke(
        notification_routes.DELIVERY_JOB,
        client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]),
    )
    assert response.payload["sent"] >= 1
    assert (
        admin_conn.execute("SELECT status FROM notifications WHERE id = %s", (notification_id,)).fetchone()["status"]
        == "sent"
    )


def test_the_monthly_schedule_bills_the_previous_month_as_drafts(client, make_customer, admin_conn, monkeypatch):
    period = fresh_period(12)
    cid = make_customer(billing_start_date=EARLY_START)
    first_of_next = datetime(period.year + 1, 1, 1, 2, 0, tzinfo=UTC)
    monkeypatch.setattr(billing, "utc_now", lambda: first_of_next)

    response = client.lambda_.invoke(
        routes.MONTHLY_RUN,
        client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]),
    )

    assert response.payload["period"] == period.label
    [invoice] = invoices_of(admin_conn, period, [cid])
    assert invoice["status"] == "draft"
    run = admin_conn.execute(
        "SELECT started_by FROM billing_runs WHERE id = %s", (response.payload["run_id"],)
    ).fetchone()
    assert run["started_by"] == "system:billing"


def test_the_daily_schedule_finalizes_due_drafts(client, make_customer, admin_conn):
    period = fresh_period()
    cid = make_customer(billing_start_date=EARLY_START)
    billing.run(period, finalize=False, now=period.ends_at)
    admin_conn.execute(
        "UPDATE invoices SET created_at = now() - interval '3 days 1 minute' WHERE period = %s", (period.first_day,)
    )

    response = client.lambda_.invoke(
        routes.DAILY_JOB,
        client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]),
    )

    assert period.label in response.payload["periods_finalized"]
    assert invoices_of(admin_conn, period, [cid])[0]["status"] == "finalized"
