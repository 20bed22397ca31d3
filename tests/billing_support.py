"""Helpers shared by the metering, billing, invoice and notification tests.

Every billing test bills its own period in a year no other test uses
(1971-2019), and its customers start in 1970: a run bills every customer of
the database, so this keeps tests (and other areas' customers, who start
today or in 2020) from seeing each other's invoices or invoice numbers.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from chalicelib.core.periods import Period
from chalicelib.metering import service as metering
from chalicelib.metering.models import UsageEventIn

EARLY_START = "1970-01-01"
_years = itertools.count(1971)


def fresh_period(month: int = 6) -> Period:
    """A period in a year no other test has billed."""
    year = next(_years)
    assert year < 2020, "out of private billing years"
    return Period(year, month)


# 1971-2019 hold 49 private years, and the suite needs more periods than that. Tests
# that need a month no other test uses, but not a year of their own (no assertion on
# a customer's yearly invoice numbering), take a month of 1970 instead: 12 of them,
# each handed out once. No test's fresh_period is ever in 1970.
_months_1970 = iter(range(1, 13))


def fresh_month_1970() -> Period:
    """A month of 1970 that no other test uses (any month: callers need only distinct months)."""
    month = next(_months_1970, None)
    assert month is not None, "out of private months of 1970"
    return Period(1970, month)


def at(period: Period, day: int = 10, hour: int = 12) -> datetime:
    return datetime(period.year, period.month, day, hour, tzinfo=UTC)


def event(metric: str, quantity, *, when: datetime, event_id: str | None = None) -> UsageEventIn:
    return UsageEventIn(event_id=event_id or uuid.uuid4().hex, metric=metric, quantity=quantity, timestamp=when)


def ingest(customer_id: uuid.UUID, period: Period, **quantities) -> None:
    """Record one event per metric (``api_calls=150000``) in ``period``."""
    events = [event(metric, Decimal(str(q)), when=at(period)) for metric, q in quantities.items()]
    metering.ingest(customer_id, events)


def after(period: Period, days: int = 1) -> datetime:
    """A moment ``days`` after the period ended."""
    return period.ends_at + timedelta(days=days)


def invoices_of(admin_conn, period: Period, customer_ids=None) -> list[dict]:
    rows = admin_conn.execute(
        "SELECT * FROM invoices WHERE period = %s ORDER BY number", (period.first_day,)
    ).fetchall()
    if customer_ids is not None:
        wanted = set(customer_ids)
        rows = [row for row in rows if row["customer_id"] in wanted]
    return rows


def lines_of(admin_conn, invoice_id) -> list[dict]:
    return admin_conn.execute(
        "SELECT * FROM invoice_lines WHERE invoice_id = %s ORDER BY position", (invoice_id,)
    ).fetchall()


def audit_actions(admin_conn, customer_id, target_id=None) -> list[str]:
    rows = admin_conn.execute(
        "SELECT action, target_id FROM audit_events WHERE customer_id IS NOT DISTINCT FROM %s ORDER BY chain_seq",
        (customer_id,),
    ).fetchall()
    return [row["action"] for row in rows if target_id is None or row["target_id"] == str(target_id)]


def moto_ses_messages(stack, recipient: str) -> list:
    """Messages moto's SES accepted for ``recipient`` (moto runs in this process)."""
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"][stack.env["AWS_REGION"]]
    return [m for m in backend.sent_messages if recipient in getattr(m, "destinations", {}).get("ToAddresses", [])]
