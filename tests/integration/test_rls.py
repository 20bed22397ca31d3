"""Row-level security on every tenant table, through the runtime's own login role.

Run directly against PostgreSQL and again through a transaction-mode PgBouncer
(the stand-in for RDS Proxy). The app login is a member of ``saas_app``: not an
owner, no BYPASSRLS, so these tests exercise the policies, not privileges alone.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.tenant_rows import TENANT_TABLES, insert_for, seed_tenant

TABLE_IDS = [t.name for t in TENANT_TABLES]


@pytest.fixture(scope="module")
def tenants(stack, admin_url):
    """Two customers, A and B, each with one row in every tenant table."""
    ids = []
    for offset in (0, 1):
        with psycopg.connect(admin_url, autocommit=True) as conn:
            customer = conn.execute(
                "INSERT INTO customers (name, email, tier_code) VALUES ('RLS Co', %s, 'starter') RETURNING id",
                (f"rls-{uuid.uuid4().hex[:10]}@example.test",),
            ).fetchone()[0]
        seed_tenant(admin_url, customer, offset=offset)
        ids.append(customer)
    return tuple(ids)


@pytest.fixture(params=["direct", pytest.param("pgbouncer", marks=pytest.mark.pgbouncer)])
def runtime_url(request, app_url):
    if request.param == "direct":
        return app_url
    return request.getfixturevalue("pgbouncer_url")


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, prepare_threshold=None, row_factory=dict_row)


def _as_tenant(conn: psycopg.Connection, customer_id: uuid.UUID):
    tx = conn.transaction()
    tx.__enter__()
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(customer_id),))
    return tx


def _count_as_superuser(admin_url: str, table: str, column: str, customer_id: uuid.UUID) -> int:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            psycopg.sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                psycopg.sql.Identifier(table), psycopg.sql.Identifier(column)
            ),
            (customer_id,),
        ).fetchone()[0]


def test_every_table_with_a_customer_column_is_covered(admin_conn):
    # usage_events' partitions are tested below (reached through the parent only).
    rows = admin_conn.execute(
        "SELECT c.table_name FROM information_schema.columns c"
        " WHERE c.table_schema = 'public' AND c.column_name = 'customer_id'"
        " AND NOT (SELECT relispartition FROM pg_class WHERE oid = format('%I', c.table_name)::regclass)"
    ).fetchall()
    assert {r["table_name"] for r in rows} | {"customers"} == set(TABLE_IDS)


def test_every_tenant_table_forces_rls_and_is_not_owned_by_the_app(admin_conn):
    for table in TENANT_TABLES:
        row = admin_conn.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner"
            " FROM pg_class c WHERE c.oid = %s::regclass",
            (table.name,),
        ).fetchone()
        assert row == {"relrowsecurity": True, "relforcerowsecurity": True, "owner": "saas_admin"}, table.name


def test_the_app_login_is_neither_superuser_nor_bypassrls(admin_conn):
    row = admin_conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'saas_app_user'").fetchone()
    assert row == {"rolsuper": False, "rolbypassrls": False}


@pytest.mark.parametrize("table", TENANT_TABLES, ids=TABLE_IDS)
def test_a_tenant_sees_only_its_own_rows(table, tenants, runtime_url):
    a, _ = tenants
    with _connect(runtime_url) as conn:
        tx = _as_tenant(conn, a)
        owners = [
            r["owner"]
            for r in conn.execute(
                psycopg.sql.SQL("SELECT {} AS owner FROM {}").format(
                    psycopg.sql.Identifier(table.tenant_column), psycopg.sql.Identifier(table.name)
                )
            ).fetchall()
        ]
        tx.__exit__(None, None, None)
    assert owners, f"tenant A should see its own {table.name} rows"
    assert set(owners) == {a}


@pytest.mark.parametrize("table", TENANT_TABLES, ids=TABLE_IDS)
def test_no_tenant_context_shows_no_rows(table, tenants, runtime_url):
    with _connect(runtime_url) as conn:
        count = conn.execute(
            psycopg.sql.SQL("SELECT count(*) AS n FROM {}").format(psycopg.sql.Identifier(table.name))
        ).fetchone()["n"]
    assert count == 0


@pytest.mark.parametrize(
    "table", [t for t in TENANT_TABLES if t.app_can_insert], ids=[t.name for t in TENANT_TABLES if t.app_can_insert]
)
def test_a_tenant_cannot_insert_rows_for_another(table, tenants, runtime_url, admin_url):
    a, b = tenants
    before = _count_as_superuser(admin_url, table.name, table.tenant_column, b)
    with (
        _connect(runtime_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
        insert_for(conn, table.name, b, admin_url)
    assert _count_as_superuser(admin_url, table.name, table.tenant_column, b) == before


@pytest.mark.parametrize(
    "table", [t for t in TENANT_TABLES if t.app_can_insert], ids=[t.name for t in TENANT_TABLES if t.app_can_insert]
)
def test_without_tenant_context_inserts_are_refused(table, tenants, runtime_url, admin_url):
    a, _ = tenants
    with (
        _connect(runtime_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
    ):
        insert_for(conn, table.name, a, admin_url)


@pytest.mark.parametrize(
    "table", [t for t in TENANT_TABLES if t.app_can_update], ids=[t.name for t in TENANT_TABLES if t.app_can_update]
)
def test_a_tenant_cannot_update_another_tenants_rows(table, tenants, runtime_url, admin_url):
    a, b = tenants
    with _connect(runtime_url) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
        cur = conn.execute(
            psycopg.sql.SQL(table.touch_sql + " WHERE {} = %s").format(psycopg.sql.Identifier(table.tenant_column)),
            (b,),
        )
        assert cur.rowcount == 0
        own = conn.execute(
            psycopg.sql.SQL(table.touch_sql + " WHERE {} = %s").format(psycopg.sql.Identifier(table.tenant_column)),
            (a,),
        )
        assert own.rowcount >= 1
        raise_rollback = psycopg.Rollback()
        raise raise_rollback


@pytest.mark.parametrize(
    "table", [t for t in TENANT_TABLES if t.app_can_update], ids=[t.name for t in TENANT_TABLES if t.app_can_update]
)
def test_a_tenant_cannot_hand_its_rows_to_another(table, tenants, runtime_url):
    a, b = tenants
    with (
        _connect(runtime_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
        conn.execute(
            psycopg.sql.SQL("UPDATE {} SET {} = %s").format(
                psycopg.sql.Identifier(table.name), psycopg.sql.Identifier(table.tenant_column)
            ),
            (b,),
        )


@pytest.mark.parametrize("table", TENANT_TABLES, ids=TABLE_IDS)
def test_a_tenant_cannot_delete_another_tenants_rows(table, tenants, runtime_url, admin_url):
    a, b = tenants
    before = _count_as_superuser(admin_url, table.name, table.tenant_column, b)
    with _connect(runtime_url) as conn:
        try:
            with conn.transaction():
                conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
                conn.execute(psycopg.sql.SQL("DELETE FROM {}").format(psycopg.sql.Identifier(table.name)))
                raise psycopg.Rollback()
        except psycopg.errors.InsufficientPrivilege:
            pass  # the app role has no DELETE on this table at all
    assert _count_as_superuser(admin_url, table.name, table.tenant_column, b) == before


def test_the_operator_path_sees_every_tenant(tenants, runtime_url):
    a, b = tenants
    with _connect(runtime_url) as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('role', 'saas_operator', true)")
            seen = {r["id"] for r in conn.execute("SELECT id FROM customers").fetchall()}
        # The role switch was transaction-local: the next statement is the app role again.
        assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "saas_app_user"
    assert {a, b} <= seen


def test_the_app_role_does_not_inherit_operator_rights(tenants, runtime_url):
    with _connect(runtime_url) as conn:
        assert conn.execute("SELECT count(*) AS n FROM customers").fetchone()["n"] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM operator_api_keys")


# ------------------------------------------------------------ usage_events' partitions (migration 0043)
# Policies of a partitioned table apply to queries through it; a partition is its own table. Each
# carries no grant (the app cannot name one) and forced RLS with the tenant policies besides.

PARTITIONS = """
SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner, c.relrowsecurity, c.relforcerowsecurity,
       c.relacl IS NULL AS no_grants,
       (SELECT array_agg(p.polname::text ORDER BY p.polname) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'usage_events'::regclass
"""
# The first month from now on without a partition (ensure_usage_partitions goes up to 24 ahead).
FIRST_MISSING_MONTH = """
SELECT i AS months_ahead, m AS month, 'usage_events_' || to_char(m, 'YYYY_MM') AS name
  FROM generate_series(0, 24) AS i,
       LATERAL (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date AS m) AS x
 WHERE to_regclass('usage_events_' || to_char(m, 'YYYY_MM')) IS NULL
 ORDER BY i LIMIT 1
"""
SEED_EVENT = (
    "INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)"
    " VALUES (%s, %s, 'api_calls', 1, %s::date + interval '1 day', %s)"
)


@pytest.fixture
def fresh_partition(tenants, runtime_url, admin_url):
    """A month's partition that did not exist, made by ensure_usage_partitions as the operator role (the jobs'
    path) on the runtime's login, with one event of A and one of B in it: ``(name, month)``."""
    a, b = tenants
    with _connect(runtime_url) as conn:
        missing = conn.execute(FIRST_MISSING_MONTH).fetchone()
        assert missing is not None, "every month up to 24 ahead has a partition already"
        with conn.transaction():
            conn.execute("SELECT set_config('role', 'saas_operator', true)")
            created = conn.execute("SELECT ensure_usage_partitions(%s) AS n", (missing["months_ahead"],)).fetchone()[
                "n"
            ]
    assert created >= 1
    with psycopg.connect(admin_url, autocommit=True) as admin:
        for customer in (a, b):
            admin.execute(SEED_EVENT, (customer, uuid.uuid4().hex, missing["month"], missing["month"]))
    return missing["name"], missing["month"]


def test_a_freshly_created_partition_forces_rls_has_the_tenant_policies_and_no_grant(fresh_partition, admin_conn):
    name, _ = fresh_partition
    partitions = {row["name"]: row for row in admin_conn.execute(PARTITIONS).fetchall()}
    assert partitions[name] == {
        "name": name,
        "owner": "saas_admin",
        "relrowsecurity": True,
        "relforcerowsecurity": True,
        "no_grants": True,
        "policies": ["analytics_read", "operator_access", "tenant_isolation"],
    }


def test_every_partition_of_usage_events_forces_rls_and_has_no_grant(tenants, admin_conn):
    rows = admin_conn.execute(PARTITIONS).fetchall()
    assert rows, "the migrations create this month's partition and the next"
    for row in rows:
        assert (row["owner"], row["relrowsecurity"], row["relforcerowsecurity"], row["no_grants"]) == (
            "saas_admin",
            True,
            True,
            True,
        ), row["name"]


def test_through_the_parent_a_tenant_sees_and_writes_only_its_own_rows_in_a_fresh_partition(
    fresh_partition, tenants, runtime_url
):
    _, month = fresh_partition
    a, b = tenants
    with _connect(runtime_url) as conn:
        with conn.transaction():
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
            owners = conn.execute("SELECT customer_id FROM usage_events WHERE period = %s", (month,)).fetchall()
            assert [row["customer_id"] for row in owners] == [a]
            conn.execute(SEED_EVENT, (a, uuid.uuid4().hex, month, month))  # its own row: accepted
            raise psycopg.Rollback()
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"),
            conn.transaction(),
        ):
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
            conn.execute(SEED_EVENT, (b, uuid.uuid4().hex, month, month))


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT count(*) FROM {}",
        (
            "INSERT INTO {} (customer_id, event_id, metric_code, quantity, occurred_at, period)"
            " SELECT %(a)s, 'direct', 'api_calls', 1, %(month)s::date, %(month)s"
        ),
        "UPDATE {} SET quantity = quantity",
        "DELETE FROM {}",
    ],
    ids=["select", "insert", "update", "delete"],
)
def test_the_app_cannot_reach_a_partition_directly(fresh_partition, tenants, runtime_url, statement):
    name, month = fresh_partition
    a, _ = tenants
    with (
        _connect(runtime_url) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"),
        conn.transaction(),
    ):
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
        params = {"a": a, "month": month} if "%(" in statement else None
        conn.execute(psycopg.sql.SQL(statement).format(psycopg.sql.Identifier(name)), params)


def test_rls_stays_forced_on_a_partition_even_if_it_were_granted(fresh_partition, tenants, admin_url):
    """Defense in depth: were a grant ever added by mistake, the partition's own policies still isolate."""
    name, month = fresh_partition
    a, b = tenants
    with psycopg.connect(admin_url, row_factory=dict_row) as conn:  # one transaction, rolled back: no grant stays
        conn.execute(psycopg.sql.SQL("GRANT SELECT, INSERT ON {} TO saas_app").format(psycopg.sql.Identifier(name)))
        conn.execute("SET LOCAL ROLE saas_app_user")
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(a),))
        owners = conn.execute(psycopg.sql.SQL("SELECT customer_id FROM {}").format(psycopg.sql.Identifier(name)))
        assert [row["customer_id"] for row in owners.fetchall()] == [a]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                psycopg.sql.SQL(
                    "INSERT INTO {} (customer_id, event_id, metric_code, quantity, occurred_at, period)"
                    " VALUES (%s, 'sideways', 'api_calls', 1, %s::date, %s)"
                ).format(psycopg.sql.Identifier(name)),
                (b, month, month),
            )
        conn.rollback()
