"""usage_events partitioned by month (migration 0043): global idempotency, partitions on demand, retention.

Idempotency and on-demand partitions are tested on the session's database,
in private months of 1970 (``fresh_month_1970``). Retention detaches every month
older than the window, which would take the other tests' years with it: those
tests (and the migration's copy of existing rows) run on a database of their own.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chalicelib.core import db, migrations
from chalicelib.core.contract import Env
from chalicelib.core.errors import Unprocessable
from chalicelib.core.periods import Period, utc_now
from chalicelib.core.settings import reset_settings
from chalicelib.metering import partitions
from chalicelib.metering import service as metering
from tests.billing_support import at, event, fresh_month_1970

INGEST = "SELECT * FROM ingest_usage_events(%s)"


def _batch(*events: tuple[str, str, datetime]) -> Jsonb:
    return Jsonb([[event_id, "api_calls", quantity, when.isoformat()] for event_id, quantity, when in events])


def _stored(admin_conn, customer_id) -> tuple[list[tuple[str, D, Any]], list[tuple[Any, D]]]:
    events = admin_conn.execute(
        "SELECT event_id, quantity, period FROM usage_events WHERE customer_id = %s ORDER BY period", (customer_id,)
    ).fetchall()
    monthly = admin_conn.execute(
        "SELECT period, quantity FROM usage_monthly WHERE customer_id = %s AND metric_code = 'api_calls'"
        " ORDER BY period",
        (customer_id,),
    ).fetchall()
    return [(e["event_id"], e["quantity"], e["period"]) for e in events], [
        (m["period"], m["quantity"]) for m in monthly
    ]


# ------------------------------------------------------------ idempotency: global, whatever the month


def test_the_same_event_id_in_another_month_is_a_duplicate(make_customer, admin_conn):
    cid = make_customer()
    january, june = fresh_month_1970(), fresh_month_1970()
    first = metering.ingest(cid, [event("api_calls", D(3), when=at(january), event_id="e-1")])
    again = metering.ingest(cid, [event("api_calls", D(5), when=at(june), event_id="e-1")])
    both = metering.ingest(
        cid,
        [
            event("api_calls", D(7), when=at(june), event_id="e-2"),
            event("api_calls", D(11), when=at(january), event_id="e-2"),
        ],
    )
    assert [(r.accepted, r.duplicates) for r in (first, again, both)] == [(1, 0), (0, 1), (1, 1)]
    events, monthly = _stored(admin_conn, cid)
    assert events == [("e-1", D(3), january.first_day), ("e-2", D(7), june.first_day)]
    assert monthly == [(january.first_day, D(3)), (june.first_day, D(7))]
    keys = admin_conn.execute(
        "SELECT event_id, period FROM usage_event_keys WHERE customer_id = %s ORDER BY event_id", (cid,)
    ).fetchall()
    assert [(k["event_id"], k["period"]) for k in keys] == [("e-1", january.first_day), ("e-2", june.first_day)]


def test_another_customer_may_use_the_same_event_id(make_customer, admin_conn):
    period = fresh_month_1970()
    a, b = make_customer(), make_customer()
    for cid in (a, b):
        assert metering.ingest(cid, [event("api_calls", D(1), when=at(period), event_id="shared")]).accepted == 1


def _waiting_on(admin_url: str, pid: int, wait_event: str, timeout: float = 20) -> None:
    """Until backend ``pid`` waits on a lock of kind ``wait_event`` (a state, not a duration, is asserted)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row == ("Lock", wait_event):
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited on {wait_event}")


class _Tenant:
    """One app-login connection, in one open tenant transaction."""

    def __init__(self, app_url: str, customer_id: uuid.UUID) -> None:
        self.conn = psycopg.connect(app_url, row_factory=dict_row)
        self.conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(customer_id),))
        self.pid = self.conn.info.backend_pid

    def ingest(self, batch: Jsonb) -> dict[str, Any]:
        row = self.conn.execute(INGEST, (batch,)).fetchone()
        assert row is not None
        return row

    def ingest_in_thread(self, batch: Jsonb) -> Callable[[], dict[str, Any]]:
        """Start ``ingest`` in a thread; the returned function joins it and returns its row."""
        result: dict[str, Any] = {}
        thread = threading.Thread(target=lambda: result.update(self.ingest(batch)))
        thread.start()

        def join() -> dict[str, Any]:
            thread.join(timeout=30)
            assert not thread.is_alive()
            return result

        return join


@pytest.mark.parametrize("first_outcome", ["commit", "rollback"])
def test_two_connections_ingesting_one_event_in_different_months_accept_it_once(
    make_customer, app_url, admin_url, admin_conn, first_outcome
):
    cid = make_customer()
    march, august = fresh_month_1970(), fresh_month_1970()
    for period in (march, august):  # both months' partitions exist: the two batches meet on the key alone
        admin_conn.execute("SELECT usage_partition_create(%s)", (period.first_day,))
    one, two = _Tenant(app_url, cid), _Tenant(app_url, cid)
    try:
        assert one.ingest(_batch(("same", "2", at(march))))["accepted"] == 1
        join = two.ingest_in_thread(_batch(("same", "5", at(august)), ("other", "1", at(august))))
        _waiting_on(admin_url, two.pid, "transactionid")  # on the first one's uncommitted key
        getattr(one.conn, first_outcome)()
        second = join()
        two.conn.commit()
    finally:
        one.conn.close()
        two.conn.close()
    events, monthly = _stored(admin_conn, cid)
    if first_outcome == "commit":
        assert second["accepted"] == 1  # "other" only
        assert events == [("same", D(2), march.first_day), ("other", D(1), august.first_day)]
        assert monthly == [(march.first_day, D(2)), (august.first_day, D(1))]
    else:
        assert second["accepted"] == 2
        assert sorted(events) == [("other", D(1), august.first_day), ("same", D(5), august.first_day)]
        assert monthly == [(august.first_day, D(6))]


# ------------------------------------------------------------ a month without a partition


def _partition_of(admin_conn, period: Period) -> list[str]:
    return [
        row["relname"]
        for row in admin_conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'usage_events'::regclass AND c.relname = %s",
            (f"usage_events_{period.year:04d}_{period.month:02d}",),
        )
    ]


def test_ingestion_creates_a_missing_month_once_when_two_batches_race_for_it(
    make_customer, app_url, admin_url, admin_conn
):
    period = fresh_month_1970()
    a, b = make_customer(), make_customer()
    assert _partition_of(admin_conn, period) == []
    one, two = _Tenant(app_url, a), _Tenant(app_url, b)
    try:
        assert one.ingest(_batch(("x", "1", at(period))))["accepted"] == 1  # creates it, uncommitted
        join = two.ingest_in_thread(_batch(("y", "2", at(period))))
        _waiting_on(admin_url, two.pid, "advisory")  # the month's creation lock
        one.conn.commit()
        assert join()["accepted"] == 1  # found the first one's partition
        two.conn.commit()
    finally:
        one.conn.close()
        two.conn.close()
    assert _partition_of(admin_conn, period) == [f"usage_events_{period.year:04d}_{period.month:02d}"]
    assert (
        admin_conn.execute("SELECT count(*) AS n FROM usage_events WHERE period = %s", (period.first_day,)).fetchone()[
            "n"
        ]
        == 2
    )


def test_a_refused_batch_leaves_no_partition_behind(make_customer, admin_conn):
    cid = make_customer()
    period = fresh_month_1970()
    with pytest.raises(Unprocessable, match=r"events\[1\]: unknown metric"):
        metering.ingest(cid, [event("api_calls", D(1), when=at(period)), event("nope", D(1), when=at(period))])
    assert _partition_of(admin_conn, period) == []


def test_the_app_cannot_create_partitions_outside_what_an_event_may_carry(app_url):
    with psycopg.connect(app_url, autocommit=True) as conn:
        for month in ("1969-12-01", "2999-01-01"):
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                conn.execute("SELECT usage_partition_for_ingest(%s)", (month,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT usage_partition_create('2001-01-01')")
        for call in ("SELECT ensure_usage_partitions(1)", "SELECT * FROM detach_expired_usage_partitions(24)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(call)


def test_the_daily_jobs_create_partitions_ahead(stack, admin_conn):
    assert partitions.ensure_ahead() >= 0  # the migrations and the stack's start made them already
    month = Period.containing(utc_now())
    for _ in range(partitions.MONTHS_AHEAD + 1):
        assert _partition_of(admin_conn, month), month
        month = month.next()


def test_the_billing_daily_job_makes_the_partitions_ahead_first(client):
    from chalicelib.billing import routes as billing_routes

    response = client.lambda_.invoke(
        billing_routes.DAILY_JOB,
        client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]),
    )
    assert response.payload["usage_partitions_created"] >= 0


def test_the_usage_partitions_schedule_runs_as_the_operator(client, monkeypatch):
    """On the session's database: a window wide enough that nothing is detached (the other tests' years stay)."""
    from chalicelib.core import contract

    monkeypatch.setenv(Env.USAGE_RETENTION_MONTHS, str(12 * 80))
    reset_settings()
    try:
        response = client.lambda_.invoke(
            contract.USAGE_PARTITIONS_JOB.name,
            client.events.generate_cw_event(
                source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
            ),
        )
    finally:
        monkeypatch.delenv(Env.USAGE_RETENTION_MONTHS)
        reset_settings()
    assert response.payload == {"partitions_created": 0, "months_detached": []}


# ------------------------------------------------------------ retention and the migration, on their own database


def _months_before(period: Period, n: int) -> Period:
    for _ in range(n):
        period = period.previous()
    return period


@pytest.fixture(scope="module")
def own_database(stack, admin_url) -> Iterator[dict[str, str]]:
    """A database of this module's own, migrated, in the test cluster (roles are cluster-wide)."""
    name = f"parts_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = {"admin": stack.postgres.url("postgres", name), "app": stack.postgres.url("saas_app_user", name)}
    migrations.migrate(urls["admin"])
    yield urls
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def runtime_on_own_database(own_database) -> Iterator[dict[str, str]]:
    """The runtime's pool pointed at :func:`own_database` for one test, then back at the session's."""
    saved = os.environ[Env.DATABASE_URL]
    os.environ[Env.DATABASE_URL] = own_database["app"]
    reset_settings()
    db.close_pool()
    try:
        yield own_database
    finally:
        os.environ[Env.DATABASE_URL] = saved
        reset_settings()
        db.close_pool()


def _customer(admin_url: str) -> uuid.UUID:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO customers (name, email, tier_code) VALUES ('Parts', %s, 'starter') RETURNING id",
            (f"parts-{uuid.uuid4().hex[:10]}@example.test",),
        ).fetchone()
    assert row is not None
    return row[0]


def test_retention_detaches_months_past_the_window_keeps_their_keys_and_refuses_them(runtime_on_own_database):
    admin_url = runtime_on_own_database["admin"]
    cid = _customer(admin_url)
    now = Period.containing(utc_now())
    old, just_out, just_in, recent = (_months_before(now, n) for n in (30, 25, 24, 6))
    batch = [("old", old), ("just-out", just_out), ("just-in", just_in), ("recent", recent)]
    result = metering.ingest(cid, [event("api_calls", D(1), when=at(p), event_id=e) for e, p in batch])
    assert result.accepted == 4

    report = partitions.maintain()  # USAGE_RETENTION_MONTHS unset: 24

    assert report.detached == (old.label, just_out.label)
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:
        archives = conn.execute("SELECT period, table_name FROM usage_event_archives ORDER BY period").fetchall()
        assert [(a["period"], a["table_name"]) for a in archives] == [
            (p.first_day, f"archived_usage_events_{p.year:04d}_{p.month:02d}") for p in (old, just_out)
        ]
        for archive in archives:  # detached whole: its rows, forced RLS and no grant, outside the parent
            table = conn.execute(
                "SELECT relispartition, relforcerowsecurity, relacl IS NULL AS no_grants FROM pg_class"
                " WHERE oid = %s::regclass",
                (archive["table_name"],),
            ).fetchone()
            assert table == {"relispartition": False, "relforcerowsecurity": True, "no_grants": True}
            count = conn.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(archive["table_name"])))
            assert count.fetchone()["n"] == 1
        online = [r["event_id"] for r in conn.execute("SELECT event_id FROM usage_events ORDER BY period")]
        assert online == ["just-in", "recent"]
        assert conn.execute("SELECT online_from FROM usage_retention").fetchone()["online_from"] == just_in.first_day
        assert conn.execute("SELECT count(*) AS n FROM usage_event_keys").fetchone()["n"] == 4
        audit = conn.execute(
            "SELECT actor, detail FROM audit_events WHERE action = 'usage.partitions_detached'"
        ).fetchall()
        assert [(a["actor"], a["detail"]["months"]) for a in audit] == [
            (partitions.JOB_ACTOR, [old.label, just_out.label])
        ]

    for period in (old, just_out):  # never re-created: refused, naming the event
        with pytest.raises(Unprocessable, match=r"events\[1\]: its month is past the usage retention"):
            metering.ingest(
                cid, [event("api_calls", D(1), when=now.starts_at), event("api_calls", D(1), when=at(period))]
            )
    assert metering.ingest(cid, [event("api_calls", D(1), when=at(just_in), event_id="late")]).accepted == 1
    # The keys of archived months stay: idempotency is global, whatever the month.
    again = metering.ingest(cid, [event("api_calls", D(1), when=now.starts_at, event_id="old")])
    assert (again.accepted, again.duplicates) == (0, 1)
    assert partitions.maintain().detached == ()


def test_retention_keeps_at_least_three_months_online(runtime_on_own_database):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least 3"):
        partitions.detach_expired(keep_months=2)


def test_a_month_detached_while_a_batch_runs_is_a_422_not_a_500(runtime_on_own_database):
    """The race the job cannot lock out: the batch found the month's table, then it was no partition any more."""
    admin_url = runtime_on_own_database["admin"]
    cid = _customer(admin_url)
    period = _months_before(Period.containing(utc_now()), 2)
    name = f"usage_events_{period.year:04d}_{period.month:02d}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT usage_partition_create(%s)", (period.first_day,))
        conn.execute(sql.SQL("ALTER TABLE usage_events DETACH PARTITION {}").format(sql.Identifier(name)))
    try:
        with pytest.raises(Unprocessable, match="past the usage retention"):
            metering.ingest(cid, [event("api_calls", D(1), when=at(period))])
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


@pytest.fixture
def database_at_0042(stack, admin_url, tmp_path) -> Iterator[tuple[str, Path]]:
    """A new database migrated up to 0042, and the directory of every migration: ``(url, directory)``."""
    name = f"mig43_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = stack.postgres.url("postgres", name)
    before = tmp_path / "before"
    before.mkdir()
    for migration in migrations.discover():
        if migration.version < 43:
            shutil.copy(migration.path, before / migration.path.name)
    shutil.copy(migrations.MIGRATIONS_DIR / "roles.sql", before / "roles.sql")
    migrations.migrate(url, directory=before)
    yield url, migrations.MIGRATIONS_DIR
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_migration_moves_every_event_and_its_key_into_monthly_partitions(database_at_0042, stack):
    url, directory = database_at_0042
    now = Period.containing(utc_now())
    months = [_months_before(now, n) for n in (40, 13, 1)]
    with psycopg.connect(url, autocommit=True) as conn:
        cid = conn.execute(
            "INSERT INTO customers (name, email, tier_code) VALUES ('Old', 'old@example.test', 'starter') RETURNING id"
        ).fetchone()[0]
        for index, period in enumerate(months):
            conn.execute(
                "INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)"
                " SELECT %s, %s || '-' || g, 'api_calls', g, %s, %s FROM generate_series(1, %s) AS g",
                (cid, period.label, at(period), period.first_day, 10 * (index + 1)),
            )

    applied = migrations.migrate(url, directory=directory)

    assert applied[0] == "0043_partitioned_usage_events.sql"
    with psycopg.connect(url, row_factory=dict_row) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE oid = 'usage_events'::regclass").fetchone() == {
            "relkind": "p"
        }
        assert conn.execute("SELECT to_regclass('usage_events_0042') AS t").fetchone()["t"] is None
        per_partition = conn.execute(
            "SELECT tableoid::regclass::text AS part, count(*) AS n, sum(quantity) AS q FROM usage_events"
            " GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert [(r["part"], r["n"], r["q"]) for r in per_partition] == [
            (f"usage_events_{p.year:04d}_{p.month:02d}", 10 * (i + 1), D(sum(range(1, 10 * (i + 1) + 1))))
            for i, p in enumerate(months)
        ]
        assert conn.execute("SELECT count(*) AS n FROM usage_event_keys").fetchone()["n"] == 60
        parts = conn.execute(
            "SELECT c.relname, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1"
        ).fetchall()
        expected = {f"usage_events_{p.year:04d}_{p.month:02d}" for p in [*months, now, now.next()]}
        assert {p["relname"] for p in parts} == expected
        assert all(p["relforcerowsecurity"] and p["owner"] == "saas_admin" for p in parts)
    app_url = stack.postgres.url("saas_app_user", url.rsplit("/", 1)[1])
    with psycopg.connect(app_url, row_factory=dict_row) as conn:  # a migrated event, sent again this month
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(cid),))
        row = conn.execute(INGEST, (_batch((f"{months[0].label}-1", "1", now.starts_at)),)).fetchone()
        assert row is not None and row["accepted"] == 0
