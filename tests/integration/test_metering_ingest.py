"""Ingestion and monthly usage against the real PostgreSQL, through the app role and RLS."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from chalicelib.core import db
from chalicelib.core.errors import PayloadTooLarge, Unprocessable
from chalicelib.core.periods import Period
from chalicelib.metering import service as metering
from chalicelib.metering.models import MetricsBatch, UsageEventIn
from tests.billing_support import at, event

PERIOD = Period(2026, 3)
WHEN = at(PERIOD)


def stored(admin_conn, customer_id):
    events = admin_conn.execute(
        "SELECT event_id, metric_code, quantity, period FROM usage_events WHERE customer_id = %s ORDER BY event_id",
        (customer_id,),
    ).fetchall()
    monthly = admin_conn.execute(
        "SELECT period, metric_code, quantity FROM usage_monthly WHERE customer_id = %s ORDER BY period, metric_code",
        (customer_id,),
    ).fetchall()
    return events, monthly


def test_duplicates_inside_a_batch_and_across_batches_are_counted_not_billed(make_customer, admin_conn):
    cid = make_customer()
    first = metering.ingest(
        cid,
        [
            event("api_calls", D(5), when=WHEN, event_id="a"),
            event("api_calls", D(7), when=WHEN, event_id="b"),
            event("api_calls", D(999), when=WHEN, event_id="a"),
        ],
    )
    assert (first.accepted, first.duplicates) == (2, 1)
    second = metering.ingest(
        cid,
        [
            event("api_calls", D(1000), when=WHEN, event_id="b"),
            event("compliance_scans", D(2), when=WHEN, event_id="c"),
        ],
    )
    assert (second.accepted, second.duplicates) == (1, 1)
    events, monthly = stored(admin_conn, cid)
    assert [(e["event_id"], e["quantity"]) for e in events] == [("a", D(5)), ("b", D(7)), ("c", D(2))]
    assert [(m["metric_code"], m["quantity"]) for m in monthly] == [("api_calls", D(12)), ("compliance_scans", D(2))]


def test_monthly_usage_reports_used_included_and_billable(make_customer):
    cid = make_customer("starter")
    metering.ingest(
        cid,
        [
            event("api_calls", D("100000.5"), when=WHEN),
            event("api_calls", D(2), when=WHEN),
            event("compliance_scans", D(3), when=at(PERIOD.next())),
        ],
    )
    usage = metering.usage_for_period(cid, PERIOD.label).model_dump(mode="json")
    assert usage == {
        "period": "2026-03",
        "metrics": [
            {"metric": "api_calls", "quantity": "100002.5", "included": "100000", "billable": "2.5"},
            {"metric": "compliance_scans", "quantity": "0", "included": "500", "billable": "0"},
        ],
    }


def test_monthly_usage_defaults_to_the_current_month_and_refuses_bad_periods(make_customer):
    cid = make_customer()
    now = datetime.now(UTC)
    metering.ingest(cid, [event("compliance_scans", D(4), when=now)])
    usage = metering.usage_for_period(cid, None)
    assert usage.period == Period.containing(now).label
    assert [m.quantity for m in usage.metrics] == [D(0), D(4)]
    for bad in ("2026-13", "2026-1", "26-01", "", "2026-01-01", "0000-01"):
        with pytest.raises(Unprocessable):
            metering.usage_for_period(cid, bad)


def test_one_tenant_never_sees_another_tenants_usage(make_customer):
    a, b = make_customer(), make_customer()
    metering.ingest(a, [event("api_calls", D(10), when=WHEN, event_id="same-id")])
    result = metering.ingest(b, [event("api_calls", D(3), when=WHEN, event_id="same-id")])
    assert result.accepted == 1  # event ids are per customer
    assert metering.usage_for_period(b, PERIOD.label).metrics[0].quantity == D(3)


@pytest.mark.parametrize(
    "quantity,reason",
    [
        (D(-1), "negative"),
        ("-0.5", "negative"),
        ("abc", "number"),
        (True, "number"),
        (None, "number"),
        ({"n": 1}, "number"),
        ([1], "number"),
        (D("NaN"), "finite"),
        (D("Infinity"), "finite"),
        ("1e400", "below"),
        (D("0.0000001"), "6 decimal places"),
        (D(10) ** 14, "below"),
        ("", "number"),
        ("0x10", "number"),
    ],
)
def test_a_bad_quantity_rejects_the_whole_batch_naming_the_event(make_customer, admin_conn, quantity, reason):
    cid = make_customer()
    batch = [
        event("api_calls", D(1), when=WHEN),
        event("api_calls", D(1), when=WHEN),
        UsageEventIn.model_construct(event_id="bad", metric="api_calls", quantity=quantity, timestamp=WHEN),
    ]
    with pytest.raises(Unprocessable, match=rf"events\[2\].*{reason}"):
        metering.ingest(cid, batch)
    assert stored(admin_conn, cid) == ([], [])


@pytest.mark.parametrize(
    "quantity,expected",
    [
        ("2.5", D("2.5")),
        (" 3 ", D(3)),
        (7, D(7)),
        (D("1e3"), D(1000)),
        ("0", D(0)),
        (D("-0"), D(0)),
        (D("999999999.999999"), D("999999999.999999")),
        (D("1.100000000"), D("1.1")),
    ],
)
def test_numbers_and_numeric_strings_are_exact_decimals(quantity, expected):
    assert metering.parse_quantity(quantity) == expected


def test_unknown_metric_is_named_and_nothing_is_written(make_customer, admin_conn):
    cid = make_customer()
    for metric in ("storage_gb", "API_CALLS", "api calls", "a\x00b"):
        batch = [event("api_calls", D(1), when=WHEN), event(metric, D(1), when=WHEN)]
        with pytest.raises(Unprocessable, match=r"events\[1\].*unknown metric"):
            metering.ingest(cid, batch)
    assert stored(admin_conn, cid) == ([], [])


def test_timestamps_more_than_five_minutes_ahead_are_refused(make_customer):
    cid = make_customer()
    now = datetime.now(UTC)
    accepted = metering.ingest(cid, [event("api_calls", D(1), when=now + timedelta(minutes=4))], now=now)
    assert accepted.accepted == 1
    with pytest.raises(Unprocessable, match=r"events\[0\].*future"):
        metering.ingest(cid, [event("api_calls", D(1), when=now + timedelta(minutes=5, seconds=1))], now=now)
    ancient = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))  # would be a BC date in UTC
    with pytest.raises(Unprocessable, match=r"events\[1\].*1970"):
        metering.ingest(cid, [event("api_calls", D(1), when=now), event("api_calls", D(1), when=ancient)], now=now)


def test_batches_over_1000_events_are_too_large(make_customer):
    # The size is checked once, where a batch is parsed (MetricsBatch); event ids that PostgreSQL
    # cannot store are refused there too (core.http), see tests/api/test_metering_routes.py.
    cid = make_customer()
    events = [{"event_id": str(n), "metric": "api_calls", "quantity": 1, "timestamp": WHEN} for n in range(1001)]
    with pytest.raises(PayloadTooLarge):
        MetricsBatch.model_validate({"events": events})
    batch = MetricsBatch.model_validate({"events": events[:1000]})
    assert metering.ingest(cid, batch.events).accepted == 1000


def test_concurrent_batches_sharing_events_count_each_event_once(make_customer, admin_conn):
    cid = make_customer()
    shared = [event("api_calls", D(1), when=WHEN, event_id=f"e{i:04d}") for i in range(600)]
    batches = [
        shared[:400] + [event("api_calls", D(1), when=WHEN) for _ in range(100)],
        list(reversed(shared[200:])) + [event("api_calls", D(1), when=WHEN) for _ in range(100)],
    ]
    results, errors = [], []
    barrier = threading.Barrier(2)

    def send(batch):
        barrier.wait()
        try:
            results.append(metering.ingest(cid, batch))
        except Exception as exc:  # noqa: BLE001 - whatever the thread raises, the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(r.accepted for r in results) == 800
    assert sum(r.duplicates for r in results) == 200
    _, monthly = stored(admin_conn, cid)
    assert monthly[0]["quantity"] == D(800)


def test_ingestion_outside_a_tenant_context_is_refused(app_url):
    import psycopg

    with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("""SELECT * FROM ingest_usage_events('[["x", "api_calls", "1", "2026-01-01T00:00:00Z"]]')""")


def test_monthly_usage_is_read_through_rls_only(make_customer):
    a = make_customer()
    metering.ingest(a, [event("api_calls", D(10), when=WHEN)])
    with db.plain_transaction() as conn:  # no tenant: nothing is visible
        assert conn.execute("SELECT count(*) AS n FROM usage_monthly").fetchone()["n"] == 0
