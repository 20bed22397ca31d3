"""The migration runner: ordered, recorded, idempotent, serialized, append-only."""

from __future__ import annotations

import shutil
import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from chalicelib.core import migrations


@pytest.fixture
def fresh_database(stack, admin_url):
    """An empty database in the test cluster (roles are cluster-wide and already exist)."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield stack.postgres.url("postgres", name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _applied(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_rerunning_migrations_is_a_no_op(admin_url):
    assert migrations.migrate(admin_url) == []


def test_a_fresh_database_gets_every_migration_in_order(fresh_database):
    applied = migrations.migrate(fresh_database)
    expected = [m.path.name for m in migrations.discover()]
    assert applied == expected
    assert _applied(fresh_database) == [m.version for m in migrations.discover()]
    with psycopg.connect(fresh_database) as conn:
        owner = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'invoices'::regclass")
        assert owner.fetchone()[0] == "saas_admin"
        assert conn.execute("SELECT count(*) FROM tier_prices").fetchone()[0] == 6


def test_two_concurrent_runners_apply_each_migration_once(fresh_database):
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrations.migrate(fresh_database))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(len(r) for r in results) == [0, len(migrations.discover())]
    assert _applied(fresh_database) == [m.version for m in migrations.discover()]


def test_a_changed_applied_migration_is_refused(fresh_database, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, directory)
    migrations.migrate(fresh_database, directory=directory)
    seed = directory / "0003_seed_catalog.sql"
    seed.write_text(seed.read_text() + "\n-- edited after the fact\n")
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.migrate(fresh_database, directory=directory)


def test_a_failing_migration_rolls_back_and_is_not_recorded(fresh_database, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, directory)
    (directory / "9999_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT 1/0;\n")
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrations.migrate(fresh_database, directory=directory)
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
    assert 9999 not in _applied(fresh_database)


def test_digest_changes_when_a_migration_changes(tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, directory)
    before = migrations.digest(directory)
    (directory / "9998_new.sql").write_text("SELECT 1;\n")
    assert migrations.digest(directory) != before


class _RecordingConnection(psycopg.Connection):
    """Keeps the text of every statement sent, as PostgreSQL's log would show it on an error."""

    sent: list[str]

    def execute(self, query, params=None, **kwargs):
        text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
        self.sent.append(f"{text} {params!r}")
        return super().execute(query, params, **kwargs)


def test_c6_the_app_password_is_sent_as_a_scram_verifier_never_in_clear(admin_url):
    role = f"pw_{uuid.uuid4().hex[:10]}"
    password = "correct horse battery staple " + uuid.uuid4().hex
    with _RecordingConnection.connect(admin_url, autocommit=True) as conn:
        conn.sent = []
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        try:
            migrations.set_password(conn, role, password)
            assert all(password not in statement for statement in conn.sent), conn.sent
            stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()[0]
            assert stored.startswith("SCRAM-SHA-256$4096:")
            assert any(stored in statement for statement in conn.sent)
        finally:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_i11_8_existing_invoice_numbers_stay_and_each_customer_continues_after_its_own(fresh_database, tmp_path):
    """Migration 0033 on a database that already numbered invoices with the platform-wide counter."""
    before = tmp_path / "before"
    before.mkdir()
    shutil.copy(migrations.MIGRATIONS_DIR / "roles.sql", before)
    for migration in migrations.discover():
        if migration.version < 33:
            shutil.copy(migration.path, before)
    migrations.migrate(fresh_database, directory=before)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        a, b = (
            conn.execute(
                "INSERT INTO customers (name, email, tier_code) VALUES ('x', %s, 'starter') RETURNING id",
                (f"{n}@example.test",),
            ).fetchone()[0]
            for n in ("a", "b")
        )
        for customer_id, number, period in (
            (a, "INV-2026-000001", "2026-01-01"),
            (b, "INV-2026-000002", "2026-01-01"),
            (a, "INV-2026-000003", "2026-02-01"),
        ):
            conn.execute(
                "INSERT INTO invoices (customer_id, number, period, tier_code, tax_rate, subtotal, discount,"
                " tax, total) VALUES (%s, %s, %s, 'starter', 0, 1, 0, 0, 1)",
                (customer_id, number, period),
            )
    assert migrations.migrate(fresh_database) == [m.path.name for m in migrations.discover() if m.version >= 33]
    with psycopg.connect(fresh_database) as conn:
        counters = dict(
            conn.execute(
                "SELECT customer_id, last_value FROM invoice_number_counters_by_customer WHERE year = 2026"
            ).fetchall()
        )
        assert counters == {a: 3, b: 2}
        numbers = sorted(r[0] for r in conn.execute("SELECT number FROM invoices"))
        assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
        forced = conn.execute("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'invoices'::regclass").fetchone()
        assert forced[0] is True
