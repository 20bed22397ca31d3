"""E-mail: queued with the change, delivered through (moto's) SES exactly once, failures retried."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal as D

import pytest
from botocore.exceptions import ClientError

from chalicelib.billing import service as billing
from chalicelib.core import aws, db
from chalicelib.core.errors import BadRequest, Unprocessable
from chalicelib.notifications import mailer
from chalicelib.notifications import service as notifications
from chalicelib.notifications.models import NotificationsQuery
from tests.billing_support import EARLY_START, after, fresh_period, ingest, invoices_of, moto_ses_messages


class SesSpy:
    """Counts send_email calls per recipient; fails the first ``failures`` calls, then sends for real."""

    def __init__(self, failures: int = 0) -> None:
        self.real = aws.client("ses")
        self.failures = failures
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def send_email(self, **kwargs):
        with self.lock:
            self.calls.append(kwargs["Destination"]["ToAddresses"][0])
            fail = self.failures > 0
            self.failures -= fail
        if fail:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded"}}, "SendEmail"
            )
        return self.real.send_email(**kwargs)


@pytest.fixture
def ses_spy(monkeypatch):
    def install(failures: int = 0) -> SesSpy:
        spy = SesSpy(failures)
        monkeypatch.setattr(mailer.aws, "client", lambda service: spy if service == "ses" else aws.client(service))
        return spy

    return install


def queue(customer_id, key=None, recipient=None, subject="Hello"):
    with db.tenant_transaction(customer_id) as conn:
        return notifications.queue_email(
            conn,
            customer_id=customer_id,
            template="test_message",
            recipient=recipient or f"{uuid.uuid4().hex}@ex.test",
            subject=subject,
            text_body="plain body",
            html_body="<p>html body</p>",
            idempotency_key=key or uuid.uuid4().hex,
            related_type="support_ticket",
            related_id=uuid.uuid4(),
        )


def row(admin_conn, notification_id):
    return admin_conn.execute("SELECT * FROM notifications WHERE id = %s", (notification_id,)).fetchone()


def test_daily_job_finalizes_old_drafts_and_emails_each_invoice_exactly_once(make_customer, admin_conn, stack):
    period, recent = fresh_period(), fresh_period()
    email = f"billing-{uuid.uuid4().hex[:8]}@customer.test"
    cid = make_customer("growth", email=email, name="Acme <Labs>", billing_start_date=EARLY_START)
    ingest(cid, period, api_calls=1_200_000, compliance_scans=5_500)
    billing.run(period, finalize=False, now=after(period))
    billing.run(recent, finalize=False, now=after(recent))
    admin_conn.execute(
        "UPDATE invoices SET created_at = now() - interval '4 days' WHERE period = %s", (period.first_day,)
    )

    report = billing.daily()

    assert period.label in report.periods_finalized and recent.label not in report.periods_finalized
    [invoice] = invoices_of(admin_conn, period, [cid])
    assert invoice["status"] == "finalized"
    assert invoices_of(admin_conn, recent, [cid])[0]["status"] == "draft"  # still within its grace period
    notification = admin_conn.execute("SELECT * FROM notifications WHERE related_id = %s", (invoice["id"],)).fetchone()
    assert (notification["status"], notification["attempts"], notification["recipient"]) == ("sent", 1, email)
    assert notification["provider_message_id"] and notification["sent_at"]
    [message] = moto_ses_messages(stack, email)
    assert invoice["number"] in message.subject
    due = invoice["due_at"].date().isoformat()
    for text in (notification["text_body"], notification["html_body"]):
        assert invoice["number"] in text and period.label in text and due in text
        assert "$8,515.80" in text and "$415.00" in text and "$300.00" in text  # total, discount, a line
    assert "Acme &lt;Labs&gt;" in notification["html_body"] and "Acme <Labs>" in notification["text_body"]

    billing.daily()
    billing.daily()
    assert len(moto_ses_messages(stack, email)) == 1
    assert row(admin_conn, notification["id"])["attempts"] == 1
    actions = [
        r["action"]
        for r in admin_conn.execute(
            "SELECT action FROM audit_events WHERE target_id = %s ORDER BY chain_seq", (str(invoice["id"]),)
        )
    ]
    assert actions == ["invoice.created", "invoice.finalized", "invoice.emailed"]


def test_a_failed_send_is_recorded_retried_and_then_sent_once(make_customer, admin_conn, ses_spy, stack):
    cid = make_customer()
    spy = ses_spy(failures=1)
    recipient = f"{uuid.uuid4().hex}@ex.test"
    notification_id = queue(cid, recipient=recipient)

    first = notifications.deliver_pending(customer_id=cid)
    failed = row(admin_conn, notification_id)
    assert (first.sent, first.failed) == (0, 1)
    assert failed["status"] == "failed" and "Throttling" in failed["error"] and failed["attempts"] == 1

    second = notifications.deliver_pending(customer_id=cid)
    sent = row(admin_conn, notification_id)
    assert (second.sent, second.failed) == (1, 0)
    assert sent["status"] == "sent" and sent["error"] is None and sent["attempts"] == 2

    assert notifications.deliver_pending(customer_id=cid).sent == 0
    assert spy.calls.count(recipient) == 2  # one failure, one real send
    assert len(moto_ses_messages(stack, recipient)) == 1


def test_a_failing_address_is_tried_once_per_run_and_given_up_after_max_attempts(make_customer, admin_conn, ses_spy):
    cid = make_customer()
    spy = ses_spy(failures=100)
    notification_id = queue(cid)
    notifications.deliver_pending(customer_id=cid, batch_size=1)
    assert row(admin_conn, notification_id)["attempts"] == 1
    for _ in range(notifications.MAX_ATTEMPTS + 2):
        notifications.deliver_pending(customer_id=cid)
    assert row(admin_conn, notification_id)["attempts"] == notifications.MAX_ATTEMPTS
    assert len(spy.calls) == notifications.MAX_ATTEMPTS


def test_one_run_pages_through_everything_pending(make_customer, admin_conn, ses_spy):
    cid = make_customer()
    spy = ses_spy()
    ids = [queue(cid) for _ in range(7)]
    report = notifications.deliver_pending(customer_id=cid, batch_size=2)
    assert report.sent == 7 and len(spy.calls) == 7
    assert {row(admin_conn, i)["status"] for i in ids} == {"sent"}


def test_the_frequent_job_sends_new_emails_but_leaves_failed_ones_for_the_daily_run(make_customer, admin_conn, ses_spy):
    cid = make_customer()
    ses_spy(failures=1)
    failing = queue(cid)
    notifications.deliver_pending(customer_id=cid)
    assert row(admin_conn, failing)["status"] == "failed"
    fresh = queue(cid)
    report = notifications.deliver_pending(customer_id=cid, include_failed=False)
    assert report.sent == 1 and row(admin_conn, fresh)["status"] == "sent"
    assert row(admin_conn, failing)["status"] == "failed"
    assert notifications.deliver_pending(customer_id=cid).sent == 1
    assert row(admin_conn, failing)["status"] == "sent"


def test_concurrent_deliverers_never_send_the_same_email_twice(make_customer, admin_conn, ses_spy):
    cid = make_customer()
    spy = ses_spy()
    ids = [queue(cid) for _ in range(12)]
    barrier = threading.Barrier(3)

    def deliver():
        barrier.wait()
        notifications.deliver_pending(customer_id=cid)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    recipients = [row(admin_conn, i)["recipient"] for i in ids]
    assert sorted(spy.calls) == sorted(recipients)
    assert {row(admin_conn, i)["status"] for i in ids} == {"sent"}


def test_queuing_the_same_purpose_twice_queues_one_email(make_customer, admin_conn):
    cid = make_customer()
    key = f"ticket_created:{uuid.uuid4()}"
    first, second = queue(cid, key=key), queue(cid, key=key)
    assert first == second
    assert (
        admin_conn.execute("SELECT count(*) AS n FROM notifications WHERE idempotency_key = %s", (key,)).fetchone()["n"]
        == 1
    )


@pytest.mark.parametrize(
    "field,value",
    [
        ("recipient", "not-an-address"),
        ("recipient", "a b@c.d"),
        ("subject", "two\nlines"),
        ("subject", ""),
        ("subject", "nul\x00"),
        ("template", "Bad Template"),
        ("idempotency_key", ""),
    ],
)
def test_unsendable_emails_are_refused_when_queued(make_customer, field, value):
    cid = make_customer()
    fields = dict(  # noqa: C408 - queue_email's keyword arguments, spelled as they are passed
        customer_id=cid,
        template="test_message",
        recipient="x@ex.test",
        subject="s",
        text_body="t",
        html_body=None,
        idempotency_key="k",
        related_type=None,
        related_id=None,
    )
    fields[field] = value
    with db.tenant_transaction(cid) as conn, pytest.raises(Unprocessable):
        notifications.queue_email(conn, **fields)


def test_delivery_records_are_listed_newest_first_per_tenant_with_cursors(make_customer):
    a, b = make_customer(), make_customer()
    ids = [queue(a, subject=f"message {i}") for i in range(5)]
    queue(b)
    seen, cursor = [], None
    while True:
        page = notifications.list_notifications(a, NotificationsQuery(limit=2, cursor=cursor))
        seen += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    item = notifications.list_notifications(a, NotificationsQuery(limit=1)).model_dump(mode="json")["items"][0]
    assert set(item) >= {
        "id",
        "channel",
        "template",
        "recipient",
        "status",
        "subject",
        "created_at",
        "sent_at",
        "error",
    }
    assert item["status"] == "queued" and item["channel"] == "email" and item["created_at"].endswith("Z")
    assert len(notifications.list_notifications(b, NotificationsQuery()).items) == 1
    for bad in ("garbage", "W10", "WyJ4IiwieSJd"):  # not base64 JSON / wrong arity / not a timestamp+uuid
        with pytest.raises(BadRequest):
            notifications.list_notifications(a, NotificationsQuery(limit=2, cursor=bad))


def test_a_failed_invoice_email_does_not_touch_the_invoice(make_customer, admin_conn, ses_spy):
    period = fresh_period()
    cid = make_customer(billing_start_date=EARLY_START)
    billing.run(period, finalize=True, now=after(period))
    ses_spy(failures=10_000)
    notifications.deliver_pending(customer_id=cid)
    [invoice] = invoices_of(admin_conn, period, [cid])
    assert invoice["status"] == "finalized" and invoice["total"] == D("2160.00")
    notification = admin_conn.execute("SELECT * FROM notifications WHERE related_id = %s", (invoice["id"],)).fetchone()
    assert notification["status"] == "failed" and notification["error"]
