"""Tenant context never outlives its transaction, on a pool of one and behind a transaction pooler."""

from __future__ import annotations

import threading

import pytest

from chalicelib.core import db
from tests.integration.tenant_rows import seed_tenant


@pytest.fixture(scope="module")
def two_tenants(stack, admin_url):
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        ids = [
            conn.execute(
                "INSERT INTO customers (name, email, tier_code) VALUES (%s, gen_random_uuid() || '@example.test',"
                " 'growth') RETURNING id",
                (name,),
            ).fetchone()[0]
            for name in ("Pool A", "Pool B")
        ]
    for offset, customer in enumerate(ids):
        seed_tenant(admin_url, customer, offset=offset + 10)
    return tuple(ids)


@pytest.fixture(params=["direct", pytest.param("pgbouncer", marks=pytest.mark.pgbouncer)])
def single_connection_pool(request, app_url):
    url = app_url if request.param == "direct" else request.getfixturevalue("pgbouncer_url")
    pool = db.make_pool(url, db.connection_kwargs(), min_size=1, max_size=1)
    previous = db.use_pool(pool)
    yield pool
    db.use_pool(previous)
    pool.close()


def _visible_customers() -> set:
    with db.plain_transaction() as conn:
        return {r["id"] for r in conn.execute("SELECT id FROM customers").fetchall()}


def _tenant_view(customer_id) -> tuple[set, str | None]:
    with db.tenant_transaction(customer_id) as conn:
        owners = {r["customer_id"] for r in conn.execute("SELECT customer_id FROM support_tickets").fetchall()}
        setting = conn.execute("SELECT current_setting('app.tenant_id', true) AS t").fetchone()["t"]
    return owners, setting


def test_interleaved_tenants_on_one_connection_never_share_context(two_tenants, single_connection_pool):
    a, b = two_tenants
    for _ in range(5):
        assert _tenant_view(a) == ({a}, str(a))
        assert _visible_customers() == set()
        assert _tenant_view(b) == ({b}, str(b))
        with db.plain_transaction() as conn:
            assert conn.execute("SELECT current_setting('app.tenant_id', true) AS t").fetchone()["t"] in (None, "")


def test_a_failed_transaction_leaves_no_context_behind(two_tenants, single_connection_pool):
    a, _ = two_tenants
    with pytest.raises(RuntimeError), db.tenant_transaction(a):
        raise RuntimeError("boom")
    assert _visible_customers() == set()


def test_operator_role_is_dropped_after_its_transaction(two_tenants, single_connection_pool):
    with db.operator_transaction() as conn:
        assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "saas_operator"
    with db.plain_transaction() as conn:
        assert conn.execute("SELECT current_user AS u").fetchone()["u"] == "saas_app_user"


def test_concurrent_tenants_through_one_connection_stay_isolated(two_tenants, single_connection_pool):
    a, b = two_tenants
    failures: list[str] = []

    def worker(customer) -> None:
        for _ in range(20):
            owners, setting = _tenant_view(customer)
            if owners != {customer} or setting != str(customer):
                failures.append(f"{customer}: saw {owners} with context {setting}")

    threads = [threading.Thread(target=worker, args=(c,)) for c in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_the_pool_never_prepares_statements(two_tenants, single_connection_pool):
    a, _ = two_tenants
    for _ in range(10):
        _tenant_view(a)
    with single_connection_pool.connection() as conn:
        assert conn.prepare_threshold is None
        assert conn.execute("SELECT count(*) AS n FROM pg_prepared_statements").fetchone()["n"] == 0
