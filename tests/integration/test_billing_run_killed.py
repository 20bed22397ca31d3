"""Issue 11, item 15: a billing run killed between its chunks.

The run is a real process, SIGKILLed while its second chunk of our customers
is inside its transaction (invoices, lines, finalization and e-mails written,
the audit insert waiting for a per-customer chain lock this test holds). What
a crash must leave: the chunks before it whole, nothing of the chunk it was
in, and a next run that completes the period with every customer invoiced
exactly once — the totals of a clean run, numbers without gaps, one e-mail per
invoice — and that records the dead run as ``abandoned``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from chalicelib.billing import repository
from chalicelib.billing import service as billing
from chalicelib.core import db
from chalicelib.core.periods import Period
from tests.billing_support import EARLY_START, after, audit_actions, fresh_period, ingest, invoices_of, lines_of

REPO_ROOT = Path(__file__).resolve().parents[2]
CHUNK = 4
WAIT_S = 60

# The billing run as the scheduled job runs it, in a process of its own, with
# small chunks so a dozen customers span several of them.
RUN_IN_A_PROCESS = """
import sys
from datetime import datetime
from chalicelib.billing import service as billing
billing.CHUNK_SIZE = int(sys.argv[1])
billing.run(sys.argv[2], finalize=sys.argv[3] == "finalize", now=datetime.fromisoformat(sys.argv[4]))
"""

AUDIT_CHAIN_LOCK = "SELECT pg_advisory_lock(hashtextextended('audit:' || %s::text, 0))"
AUDIT_CHAIN_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended('audit:' || %s::text, 0))"
# The run's chunk transaction, waiting in the audit trigger for the lock we hold.
BLOCKED_BY = """
SELECT pid FROM pg_stat_activity
 WHERE application_name LIKE 'saas-%%' AND wait_event_type = 'Lock' AND %(locker)s = ANY(pg_blocking_pids(pid))
"""
# The run's lock transaction: the holder of the period's run lock.
PERIOD_LOCK_HOLDER = """
SELECT pid FROM pg_locks
 WHERE locktype = 'advisory' AND granted AND objsubid = 1
   AND ((classid::bigint << 32) | objid::bigint) = billing_period_lock_key('run', %(period)s)
"""

USAGE = [  # (tier, api_calls, compliance_scans): every customer's invoice differs
    ("starter", 150_000 + 1_000 * n, 600 + 10 * n) if n % 3 else ("growth", 1_200_000 + 5_000 * n, 5_500 + n)
    for n in range(12)
]


def _amounts(invoice: dict) -> tuple:
    return invoice["subtotal"], invoice["discount"], invoice["tax"], invoice["total"]


def _line_amounts(admin_conn, invoice_id) -> list[tuple]:
    return [
        (line["metric_code"], line["quantity"], line["unit_price"], line["amount"])
        for line in lines_of(admin_conn, invoice_id)
    ]


def _invoice_emails(admin_conn, customer_ids) -> Counter:
    rows = admin_conn.execute(
        "SELECT related_id FROM notifications WHERE related_type = 'invoice' AND customer_id = ANY(%s)",
        (list(customer_ids),),
    ).fetchall()
    return Counter(row["related_id"] for row in rows)


def _period_audit(admin_conn, customer_id, period: Period) -> list[str]:
    rows = admin_conn.execute(
        "SELECT action FROM audit_events WHERE customer_id = %s AND detail->>'period' = %s ORDER BY chain_seq",
        (customer_id, period.label),
    ).fetchall()
    return [row["action"] for row in rows]


def _run_order(period: Period) -> list:
    """The customers the run bills, in the order it writes them (every customer of the database who
    started by the period's end: other tests' customers come first)."""
    with db.operator_transaction() as conn:
        return [c.customer_id for c in repository.usage_by_customer(conn, period.first_day, period.last_day)]


def _wait_for(what: str, probe, process: subprocess.Popen | None = None, log: Path | None = None):
    """Poll ``probe`` until it returns something true; fail (with the billing process's output) otherwise."""
    output = lambda: log.read_text() if log is not None and log.exists() else ""  # noqa: E731
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        if process is not None and process.poll() is not None:
            pytest.fail(f"the billing process exited ({process.returncode}) before {what}:\n{output()}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}:\n{output()}")


def _backend_alive(admin_conn, pid: int) -> bool:
    return admin_conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None


@pytest.mark.parametrize("finalize", [True, False], ids=["finalizing", "draft"])
def test_a_run_killed_between_chunks_leaves_whole_invoices_and_the_next_run_completes_the_period(
    finalize, make_customer, admin_conn, admin_url, tmp_path
):
    period, clean_period = fresh_period(), fresh_period()
    ours = []
    for tier, api_calls, scans in USAGE:
        cid = make_customer(tier, billing_start_date=EARLY_START)
        for p in (period, clean_period):
            ingest(cid, p, api_calls=api_calls, compliance_scans=scans)
        ours.append(cid)

    # The reference: the same usage, billed by a run nobody interrupts.
    billing.run(clean_period, finalize=finalize, now=after(clean_period))
    clean = {row["customer_id"]: row for row in invoices_of(admin_conn, clean_period, ours)}

    order = _run_order(period)
    first = order.index(ours[0])
    blocked_start = (first // CHUNK + 1) * CHUNK  # the chunk after the one our first customer is in
    assert order[first:] == ours and blocked_start < len(order) - CHUNK
    committed, victim = set(order[:blocked_start]), order[blocked_start]

    log = tmp_path / "billing-run.log"
    with psycopg.connect(admin_url, autocommit=True) as locker:
        locker_pid = locker.info.backend_pid
        locker.execute(AUDIT_CHAIN_LOCK, (victim,))
        env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "runtime"), str(REPO_ROOT)])}
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    RUN_IN_A_PROCESS,
                    str(CHUNK),
                    period.label,
                    "finalize" if finalize else "draft",
                    after(period).isoformat(),
                ],
                env=env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            [chunk_pid] = _wait_for(
                "its chunk to wait on the audit lock",
                lambda: [row["pid"] for row in admin_conn.execute(BLOCKED_BY, {"locker": locker_pid})],
                process,
                log,
            )
            [lock_pid] = [row["pid"] for row in admin_conn.execute(PERIOD_LOCK_HOLDER, {"period": period.first_day})]
            os.kill(process.pid, signal.SIGKILL)
            process.wait(WAIT_S)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(WAIT_S)
            locker.execute(AUDIT_CHAIN_UNLOCK, (victim,))
    # The killed process's sessions end (the chunk's once it gets the lock and finds its client gone),
    # and PostgreSQL rolls back what they had not committed.
    _wait_for(
        "the killed run's sessions to end",
        lambda: not (_backend_alive(admin_conn, chunk_pid) or _backend_alive(admin_conn, lock_pid)),
        log=log,
    )

    # 1. Whole chunks, and nothing of the one it died in.
    invoices = invoices_of(admin_conn, period)
    assert {row["customer_id"] for row in invoices} == committed
    assert len(invoices) == len(committed)
    assert 0 < len(committed & set(ours)) < len(ours)  # it really died halfway through our customers
    for row in invoices:
        lines = lines_of(admin_conn, row["id"])
        assert lines and sum(line["amount"] for line in lines) == row["subtotal"]
        assert row["number"] == f"INV-{period.year}-000001"
        assert row["status"] == ("finalized" if finalize else "draft")
    killed_ours = {row["customer_id"]: row for row in invoices if row["customer_id"] in set(ours)}
    for cid, row in killed_ours.items():
        assert _amounts(row) == _amounts(clean[cid])
        assert _line_amounts(admin_conn, row["id"]) == _line_amounts(admin_conn, clean[cid]["id"])
    clean_ids = {row["id"] for row in clean.values()}
    emails = {i: n for i, n in _invoice_emails(admin_conn, ours).items() if i not in clean_ids}
    assert emails == ({row["id"]: 1 for row in killed_ours.values()} if finalize else {})
    expected_audit = ["invoice.created", "invoice.finalized"] if finalize else ["invoice.created"]
    for cid in ours:  # the audit trail says what exists, no more, and its chain is intact
        assert _period_audit(admin_conn, cid, period) == (expected_audit if cid in killed_ours else [])
        assert admin_conn.execute("SELECT * FROM verify_audit_chain(%s)", (cid,)).fetchall() == []
    [killed_run] = admin_conn.execute("SELECT * FROM billing_runs WHERE period = %s", (period.first_day,)).fetchall()
    assert killed_run["status"] == "running" and killed_run["finished_at"] is None

    # 2. The next run completes the period.
    result = billing.run(period, finalize=finalize, now=after(period))

    completed = invoices_of(admin_conn, period)
    per_customer = Counter(row["customer_id"] for row in completed)
    assert set(per_customer) == set(order) and set(per_customer.values()) == {1}
    assert result.invoices_created == len(order) - len(committed) and result.invoices_existing == len(committed)
    assert result.invoices_finalized == (len(order) - len(committed) if finalize else 0)
    numbers = Counter(row["number"] for row in completed)
    assert set(numbers) == {f"INV-{period.year}-000001"}  # each customer's first of the year: no gap
    before = {row["id"]: row for row in invoices}
    for row in completed:
        if row["id"] in before:
            assert row == before[row["id"]]  # what the killed run committed is kept as it was
    ours_now = {row["customer_id"]: row for row in completed if row["customer_id"] in set(ours)}
    for cid in ours:
        assert _amounts(ours_now[cid]) == _amounts(clean[cid])
        assert _line_amounts(admin_conn, ours_now[cid]["id"]) == _line_amounts(admin_conn, clean[cid]["id"])
        assert ours_now[cid]["status"] == ("finalized" if finalize else "draft")
        assert _period_audit(admin_conn, cid, period) == expected_audit
        assert audit_actions(admin_conn, cid, ours_now[cid]["id"]) == expected_audit
    assert result.total == sum(row["total"] for row in completed)
    emails = {i: n for i, n in _invoice_emails(admin_conn, ours).items() if i not in clean_ids}
    assert emails == ({row["id"]: 1 for row in ours_now.values()} if finalize else {})

    runs = {
        row["id"]: row
        for row in admin_conn.execute("SELECT * FROM billing_runs WHERE period = %s", (period.first_day,)).fetchall()
    }
    assert runs[result.run_id]["status"] == "succeeded"
    dead = runs[killed_run["id"]]
    assert dead["status"] == "abandoned" and dead["finished_at"] is not None
    assert str(result.run_id) in dead["error"]
    platform = admin_conn.execute(
        "SELECT action, detail FROM audit_events WHERE customer_id IS NULL AND target_id = %s ORDER BY chain_seq",
        (str(killed_run["id"]),),
    ).fetchall()
    assert [row["action"] for row in platform] == ["billing_run.started", "billing_run.abandoned"]
    assert platform[1]["detail"]["found_by"] == str(result.run_id)


def test_only_a_run_that_is_gone_is_marked_abandoned_never_one_waiting_for_the_period(
    make_customer, admin_conn, admin_url
):
    """Two live runs queue behind the period's lock (each has its 'running' row); a third row is a
    run that died before its first chunk. The run that gets the period marks only the dead one."""
    period = fresh_period()
    cid = make_customer("starter", billing_start_date=EARLY_START)
    ingest(cid, period, api_calls=100_000)
    dead_id = admin_conn.execute(
        "INSERT INTO billing_runs (period, finalize, started_by) VALUES (%s, false, 'system:billing') RETURNING id",
        (period.first_day,),
    ).fetchone()["id"]

    results, errors = [], []

    def bill():
        try:
            results.append(billing.run(period, finalize=False, now=after(period)))
        except Exception as exc:  # noqa: BLE001 - whatever the thread raises, the assertion below reports it
            errors.append(exc)

    with psycopg.connect(admin_url, autocommit=True) as holder:
        holder_pid = holder.info.backend_pid
        holder.execute("SELECT pg_advisory_lock(billing_period_lock_key('run', %s))", (period.first_day,))
        threads = [threading.Thread(target=bill) for _ in range(2)]
        try:
            for thread in threads:
                thread.start()
            _wait_for(
                "both runs to wait for the period",
                lambda: len(admin_conn.execute(BLOCKED_BY, {"locker": holder_pid}).fetchall()) == 2,
            )
            waiting = admin_conn.execute(
                "SELECT status FROM billing_runs WHERE period = %s AND id <> %s", (period.first_day, dead_id)
            ).fetchall()
            assert [row["status"] for row in waiting] == ["running", "running"]
        finally:
            holder.execute("SELECT pg_advisory_unlock(billing_period_lock_key('run', %s))", (period.first_day,))
            for thread in threads:
                thread.join(WAIT_S)
    assert errors == [] and len(results) == 2

    runs = {
        row["id"]: row["status"]
        for row in admin_conn.execute(
            "SELECT id, status FROM billing_runs WHERE period = %s", (period.first_day,)
        ).fetchall()
    }
    assert runs == {dead_id: "abandoned", results[0].run_id: "succeeded", results[1].run_id: "succeeded"}
    abandoned = admin_conn.execute(
        "SELECT target_id, detail FROM audit_events WHERE customer_id IS NULL AND action = 'billing_run.abandoned'"
        " AND detail->>'period' = %s",
        (period.label,),
    ).fetchall()
    assert [row["target_id"] for row in abandoned] == [str(dead_id)]
    assert abandoned[0]["detail"]["found_by"] in {str(r.run_id) for r in results}
    assert len(invoices_of(admin_conn, period, [cid])) == 1
