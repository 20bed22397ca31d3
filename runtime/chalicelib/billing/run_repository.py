"""The billing run's locks and its own record (``billing_runs``). Every function runs on the caller's transaction.

A run holds two kinds of advisory lock, each until its transaction ends: its
own (while it is held the run is alive) and its period's ``run`` and
``freeze`` locks (see migration 0020). Its row records who started it and
its outcome: ``succeeded``, ``failed`` or, when its process died first,
``abandoned``.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from chalicelib.billing.models import AbandonedRun
from chalicelib.core.db import Connection

LOCK_PERIOD = "SELECT pg_advisory_xact_lock(billing_period_lock_key(%(purpose)s, %(period)s))"

INSERT_RUN = """
INSERT INTO billing_runs (id, period, finalize, started_by) VALUES (%(id)s, %(period)s, %(finalize)s, %(started_by)s)
"""

# A run's own lock, keyed by its id: its lock transaction takes it before the
# run's row exists and holds it until the run's outcome is committed, so a
# 'running' row whose lock is free belongs to a run whose process (or lock
# session) is gone. Only the run itself waits for it; others only try it.
LOCK_RUN = "SELECT pg_advisory_xact_lock(hashtextextended('billing-run:' || %(id)s::text, 0))"

# The period's other 'running' runs whose lock we can take: nobody holds it,
# so they are dead. MATERIALIZED: the lock is tried on those rows only.
DEAD_RUNS = """
WITH running AS MATERIALIZED (
    SELECT id FROM billing_runs WHERE period = %(period)s AND status = 'running' AND id <> %(id)s
)
SELECT id FROM running WHERE pg_try_advisory_xact_lock(hashtextextended('billing-run:' || id::text, 0))
"""

# A statement of its own, after DEAD_RUNS took the locks: its snapshot then
# includes an outcome a run committed just before its lock transaction let go.
ABANDON_RUNS = """
UPDATE billing_runs SET status = 'abandoned', finished_at = clock_timestamp(), error = %(error)s
 WHERE id = ANY(%(ids)s::uuid[]) AND status = 'running'
RETURNING id, finalize, started_by, started_at
"""

FINISH_RUN = """
UPDATE billing_runs
   SET status = 'succeeded', finished_at = clock_timestamp(), invoices_created = %(created)s,
       invoices_existing = %(existing)s, total = %(total)s
 WHERE id = %(id)s
"""

FAIL_RUN = """
UPDATE billing_runs SET status = 'failed', finished_at = clock_timestamp(), error = %(error)s WHERE id = %(id)s
"""


def lock_period(conn: Connection, purpose: str, period_start: date) -> None:
    """Take the period's ``run`` or ``freeze`` lock until the transaction ends (see migration 0020)."""
    conn.execute(LOCK_PERIOD, {"purpose": purpose, "period": period_start})


def lock_run(conn: Connection, run_id: uuid.UUID) -> None:
    """Take run ``run_id``'s own lock until the transaction ends: while it is held, the run is alive."""
    conn.execute(LOCK_RUN, {"id": run_id})


def insert_run(conn: Connection, run_id: uuid.UUID, *, period_start: date, finalize: bool, started_by: str) -> None:
    conn.execute(INSERT_RUN, {"id": run_id, "period": period_start, "finalize": finalize, "started_by": started_by})


def abandon_dead_runs(conn: Connection, period_start: date, *, found_by: uuid.UUID) -> list[AbandonedRun]:
    """Mark ``abandoned`` the period's runs still ``running`` whose own lock is free (their process is gone)."""
    dead = [row["id"] for row in conn.execute(DEAD_RUNS, {"period": period_start, "id": found_by})]
    if not dead:
        return []
    error = f"abandoned: the run ended without recording an outcome (found by run {found_by})"
    return [AbandonedRun(**row) for row in conn.execute(ABANDON_RUNS, {"ids": dead, "error": error})]


def finish_run(conn: Connection, run_id: uuid.UUID, *, created: int, existing: int, total: Decimal) -> None:
    conn.execute(FINISH_RUN, {"id": run_id, "created": created, "existing": existing, "total": total})


def fail_run(conn: Connection, run_id: uuid.UUID, error: str) -> None:
    conn.execute(FAIL_RUN, {"id": run_id, "error": error[:2000]})
