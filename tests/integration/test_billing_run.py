"""The billing run against the real PostgreSQL: amounts, idempotency, drafts, finalization, numbering."""

from __future__ import annotations

import re
import threading
from datetime import date
from decimal import Decimal as D

import psycopg
import pytest

from chalicelib.billing import service as billing
from chalicelib.core import db
from chalicelib.core.errors import Unprocessable
from chalicelib.core.periods import Period
from chalicelib.metering import service as metering
from tests.billing_support import (
    EARLY_START,
    after,
    at,
    audit_actions,
    event,
    fresh_period,
    ingest,
    invoices_of,
    lines_of,
)

run = billing.run


@pytest.fixture
def customer(make_customer):
    def create(tier="starter", **fields):
        fields.setdefault("billing_start_date", EARLY_START)
        return make_customer(tier, **fields)

    return create


def test_a_run_bills_each_customer_with_the_contract_arithmetic(customer, admin_conn):
    period = fresh_period()
    starter, growth, exempt = customer("starter"), customer("growth"), customer("starter", tax_rate="0")
    ingest(starter, period, api_calls=150_000, compliance_scans=600)
    ingest(growth, period, api_calls=1_200_000, compliance_scans=5_500)

    result = run(period, finalize=False, now=after(period))

    invoices = {row["customer_id"]: row for row in invoices_of(admin_conn, period)}
    assert (invoices[starter]["subtotal"], invoices[starter]["tax"], invoices[starter]["total"]) == (
        D("2250.00"),
        D("180.00"),
        D("2430.00"),
    )
    assert (invoices[growth]["subtotal"], invoices[growth]["discount"], invoices[growth]["total"]) == (
        D("8300.00"),
        D("415.00"),
        D("8515.80"),
    )
    assert (invoices[exempt]["tax"], invoices[exempt]["total"]) == (D("0.00"), D("2000.00"))
    assert all(row["status"] == "draft" and row["due_at"] is None for row in invoices.values())
    lines = lines_of(admin_conn, invoices[starter]["id"])
    assert [(line["metric_code"], line["quantity"], line["amount"]) for line in lines] == [
        (None, D(1), D("2000.00")),
        ("api_calls", D(50000), D("100.00")),
        ("compliance_scans", D(100), D("150.00")),
    ]
    assert result.invoices_created == len(invoices) and result.invoices_existing == 0
    assert result.total == sum(row["total"] for row in invoices.values())


def test_proration_and_customers_who_start_after_the_period(customer, admin_conn):
    period = fresh_period(10)  # 31 days
    mid_month = customer(billing_start_date=date(period.year, 10, 15).isoformat())
    later = customer(billing_start_date=date(period.year, 11, 1).isoformat())
    run(period, finalize=False, now=after(period))
    invoices = {row["customer_id"]: row for row in invoices_of(admin_conn, period)}
    assert invoices[mid_month]["subtotal"] == D("1096.77")  # 2000 x 17 / 31
    assert "17 of 31 days" in lines_of(admin_conn, invoices[mid_month]["id"])[0]["description"]
    assert later not in invoices


def test_a_period_that_has_not_ended_is_refused(customer):
    period = fresh_period()
    with pytest.raises(Unprocessable, match="has not ended"):
        run(period, finalize=False, now=at(period, day=28))
    with pytest.raises(Unprocessable):
        run("2026-13", finalize=False)
    with pytest.raises(Unprocessable):
        run("garbage", finalize=False)


def test_rerunning_a_period_creates_nothing_and_changes_nothing(customer, admin_conn):
    period = fresh_period()
    cid = customer()
    ingest(cid, period, api_calls=120_000)
    first = run(period, finalize=False, now=after(period))
    before = invoices_of(admin_conn, period)
    second = run(period, finalize=False, now=after(period))
    assert second.invoices_created == 0
    assert second.invoices_existing == first.invoices_created + first.invoices_existing
    assert second.invoices_recomputed == 0 and second.total == first.total
    assert invoices_of(admin_conn, period) == before  # not even updated_at moved
    assert audit_actions(admin_conn, cid).count("invoice.created") == 1
    assert "invoice.recomputed" not in audit_actions(admin_conn, cid)


def test_a_late_event_recomputes_the_draft_and_is_refused_after_finalize(customer, admin_conn):
    period = fresh_period()
    cid = customer()
    ingest(cid, period, api_calls=100_000)
    run(period, finalize=False, now=after(period))
    [draft] = invoices_of(admin_conn, period, [cid])
    assert draft["total"] == D("2160.00")

    ingest(cid, period, api_calls=50_000)  # arrives after the draft was made
    result = run(period, finalize=False, now=after(period))
    [recomputed] = invoices_of(admin_conn, period, [cid])
    assert recomputed["id"] == draft["id"] and recomputed["number"] == draft["number"]
    assert recomputed["total"] == D("2268.00")  # + 50,000 x 0.002 = 100.00, + 8 % tax
    assert result.invoices_recomputed >= 1
    assert [line["amount"] for line in lines_of(admin_conn, draft["id"])] == [D("2000.00"), D("100.00")]
    assert audit_actions(admin_conn, cid, draft["id"]) == ["invoice.created", "invoice.recomputed"]

    finalized = run(period, finalize=True, now=after(period))
    [frozen] = invoices_of(admin_conn, period, [cid])
    assert frozen["status"] == "finalized" and frozen["finalized_at"] and frozen["due_at"]
    assert finalized.invoices_finalized >= 1
    assert audit_actions(admin_conn, cid, draft["id"])[-1] == "invoice.finalized"

    with pytest.raises(Unprocessable, match=r"events\[1\].*finalized"):
        metering.ingest(
            cid, [event("api_calls", D(1), when=at(Period(2026, 1))), event("api_calls", D(1), when=at(period))]
        )
    assert (
        admin_conn.execute("SELECT count(*) AS n FROM usage_events WHERE customer_id = %s", (cid,)).fetchone()["n"] == 2
    )  # nothing of the refused batch was written

    again = run(period, finalize=True, now=after(period))
    assert again.invoices_created == 0 and again.invoices_finalized == 0
    assert invoices_of(admin_conn, period, [cid]) == [frozen]


def test_a_finalized_invoice_and_its_lines_cannot_change(customer, admin_conn):
    period = fresh_period()
    cid = customer()
    run(period, finalize=True, now=after(period))
    [invoice] = invoices_of(admin_conn, period, [cid])
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState), db.operator_transaction() as conn:
        conn.execute("UPDATE invoices SET total = total + 1, subtotal = subtotal + 1 WHERE id = %s", (invoice["id"],))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState), db.operator_transaction() as conn:
        conn.execute("UPDATE invoice_lines SET description = 'changed' WHERE invoice_id = %s", (invoice["id"],))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState), db.operator_transaction() as conn:
        conn.execute("DELETE FROM invoice_lines WHERE invoice_id = %s", (invoice["id"],))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):  # not even the superuser
        admin_conn.execute("UPDATE invoices SET status = 'draft' WHERE id = %s", (invoice["id"],))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
        admin_conn.execute(
            "INSERT INTO invoice_lines (invoice_id, customer_id, position, description, quantity, unit_price, amount)"
            " VALUES (%s, %s, 99, 'extra', 1, 1, 1)",
            (invoice["id"], cid),
        )
    # Only the status may move on, with nothing else touched.
    with db.operator_transaction() as conn:
        conn.execute("UPDATE invoices SET status = 'paid', updated_at = now() WHERE id = %s", (invoice["id"],))
    [paid] = invoices_of(admin_conn, period, [cid])
    assert paid["status"] == "paid" and paid["total"] == invoice["total"]


def test_two_concurrent_runs_produce_one_invoice_per_customer(customer, admin_conn, monkeypatch):
    monkeypatch.setattr(billing, "CHUNK_SIZE", 2)  # several chunks per run
    period = fresh_period()
    ids = [customer() for _ in range(5)]
    for cid in ids:
        ingest(cid, period, api_calls=100_500)
    results, errors = [], []
    barrier = threading.Barrier(2)

    def bill():
        barrier.wait()
        try:
            results.append(run(period, finalize=False, now=after(period)))
        except Exception as exc:  # noqa: BLE001 - whatever the thread raises, the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=bill) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    invoices = invoices_of(admin_conn, period)
    assert len({row["customer_id"] for row in invoices}) == len(invoices)
    assert set(ids) <= {row["customer_id"] for row in invoices}
    assert sum(r.invoices_created for r in results) == len(invoices)
    assert results[0].total == results[1].total
    runs = admin_conn.execute("SELECT status FROM billing_runs WHERE period = %s", (period.first_day,)).fetchall()
    assert [row["status"] for row in runs] == ["succeeded", "succeeded"]


def test_invoice_numbers_are_sequential_and_gap_free_per_customer_and_year(customer, admin_conn, monkeypatch):
    """Issue 11, item 8: each customer's own sequence; no number tells the platform's volume."""
    monkeypatch.setattr(billing, "CHUNK_SIZE", 3)
    period = fresh_period(3)
    first = [customer() for _ in range(4)]
    run(period, finalize=False, now=after(period))
    later = Period(period.year, 4)
    newcomer = customer()  # one more customer, billed in the next month of the same year
    run(later, finalize=False, now=after(later))
    numbers: dict = {}
    for row in invoices_of(admin_conn, period) + invoices_of(admin_conn, later):
        numbers.setdefault(row["customer_id"], []).append(row["number"])
    assert all(re.fullmatch(rf"INV-{period.year}-\d{{6}}", n) for ns in numbers.values() for n in ns)
    for cid in first:
        assert sorted(numbers[cid]) == [f"INV-{period.year}-000001", f"INV-{period.year}-000002"]
    assert numbers[newcomer] == [f"INV-{period.year}-000001"]


def test_i11_8_invoice_numbers_restart_per_customer_and_year_and_ignore_other_tenants(customer, admin_conn):
    period = fresh_period(11)
    a, b = customer(), customer()
    run(period, finalize=False, now=after(period))
    december = Period(period.year, 12)
    run(december, finalize=False, now=after(december))
    by_customer = {}
    for row in invoices_of(admin_conn, period) + invoices_of(admin_conn, december):
        by_customer.setdefault(row["customer_id"], []).append(row["number"])
    # Every other customer of the database was billed in these periods too, yet a and b count only their own.
    assert by_customer[a] == by_customer[b] == [f"INV-{period.year}-000001", f"INV-{period.year}-000002"]
    counters = admin_conn.execute(
        "SELECT customer_id, last_value FROM invoice_number_counters_by_customer WHERE year = %s"
        " AND customer_id = ANY(%s)",
        (period.year, [a, b]),
    ).fetchall()
    assert {row["customer_id"]: row["last_value"] for row in counters} == {a: 2, b: 2}


def test_a_failed_run_is_recorded_and_leaves_no_partial_chunk(customer, admin_conn, monkeypatch):
    period = fresh_period()
    cid = customer()

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(billing.repository, "replace_lines", broken)
    with pytest.raises(RuntimeError):
        run(period, finalize=False, now=after(period))
    assert invoices_of(admin_conn, period) == []
    [failed] = admin_conn.execute(
        "SELECT status, error FROM billing_runs WHERE period = %s", (period.first_day,)
    ).fetchall()
    assert failed["status"] == "failed" and "disk on fire" in failed["error"]
    counter = admin_conn.execute(
        "SELECT last_value FROM invoice_number_counters_by_customer WHERE year = %s AND customer_id = %s",
        (period.year, cid),
    ).fetchone()
    assert counter is None  # no number was burnt


def test_runs_are_recorded_and_audited(customer, admin_conn):
    period = fresh_period()
    cid = customer()
    result = run(period, finalize=False, now=after(period), actor="operator:test")
    row = admin_conn.execute("SELECT * FROM billing_runs WHERE id = %s", (result.run_id,)).fetchone()
    assert row["status"] == "succeeded" and row["finished_at"] and row["started_by"] == "operator:test"
    assert (row["invoices_created"], row["total"]) == (result.invoices_created, result.total)
    platform = admin_conn.execute(
        "SELECT action, actor FROM audit_events WHERE customer_id IS NULL AND target_id = %s ORDER BY chain_seq",
        (str(result.run_id),),
    ).fetchall()
    assert [(r["action"], r["actor"]) for r in platform] == [
        ("billing_run.started", "operator:test"),
        ("billing_run.finished", "operator:test"),
    ]
    assert "invoice.created" in audit_actions(admin_conn, cid)
    assert admin_conn.execute("SELECT * FROM verify_audit_chain(%s)", (cid,)).fetchall() == []
