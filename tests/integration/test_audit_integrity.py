"""Issue 11, item 9: the audit trail's time and actor come from the server, and only the purge deletes.

The attack this closes: as the app role, insert an event dated eight years
back (it becomes the chain's tail), set ``app.audit_retention_purge = on``
(any role may set a GUC) and delete it again; ``verify_audit_chain`` still
reported an intact chain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from chalicelib.audit import recorder
from chalicelib.core import context, db
from tests.audit_support import age_newest_event

BACKDATED_INSERT = (
    "INSERT INTO audit_events (customer_id, actor, action, target_type, occurred_at)"
    " VALUES (%s, 'operator:mallory', 'backdated.event', 'thing', now() - interval '8 years')"
    " RETURNING occurred_at, actor"
)


@pytest.fixture
def customer(make_customer):
    return make_customer()


def _events(admin_conn, customer_id) -> list[dict]:
    return admin_conn.execute(
        "SELECT action, actor, occurred_at FROM audit_events WHERE customer_id = %s ORDER BY chain_seq", (customer_id,)
    ).fetchall()


def _verify(admin_conn, customer_id) -> list[dict]:
    return admin_conn.execute("SELECT * FROM verify_audit_chain(%s)", (customer_id,)).fetchall()


def test_i11_9_a_backdated_insert_gets_the_servers_time_and_the_transactions_actor(customer):
    before = datetime.now(UTC)
    with db.tenant_transaction(customer, actor="customer:real/key:real") as conn:
        row = conn.execute(BACKDATED_INSERT, (customer,)).fetchone()
    assert before - timedelta(seconds=5) <= row["occurred_at"] <= datetime.now(UTC) + timedelta(seconds=5)
    assert row["actor"] == "customer:real/key:real"


def test_i11_9_the_actor_defaults_to_the_current_principal(customer, admin_conn):
    principal = context.Principal(role="customer", subject=customer, key_id=customer, session_id="s")
    token = context.set_principal(principal)
    try:
        with db.tenant_transaction(customer) as conn:
            recorder.record(conn, customer_id=customer, action="thing.done", target_type="thing")
    finally:
        context.reset_principal(token)
    assert _events(admin_conn, customer)[-1]["actor"] == f"customer:{customer}/key:{customer}"


def test_i11_9_without_app_actor_the_row_names_the_database_role_not_the_claimed_actor(customer, app_url, admin_conn):
    with psycopg.connect(app_url, row_factory=dict_row) as conn:  # outside the runtime's transactions
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(customer),))
        row = conn.execute(BACKDATED_INSERT, (customer,)).fetchone()
    assert row["actor"] == "db:saas_app_user"  # the login that ran the INSERT
    assert row["occurred_at"] > datetime.now(UTC) - timedelta(minutes=1)
    assert _verify(admin_conn, customer) == []


def test_i11_9_the_purge_flag_no_longer_lets_the_app_role_delete_its_backdated_row(customer, admin_conn):
    with db.tenant_transaction(customer, actor="test") as conn:
        conn.execute(BACKDATED_INSERT, (customer,))
    for unit in (lambda: db.tenant_transaction(customer), db.operator_transaction):
        with pytest.raises(pg_errors.InsufficientPrivilege), unit() as conn:
            conn.execute("SELECT set_config('app.audit_retention_purge', 'on', true)")
            conn.execute("DELETE FROM audit_events WHERE action = 'backdated.event'")
    assert [e["action"] for e in _events(admin_conn, customer)] == ["backdated.event"]
    assert _verify(admin_conn, customer) == []


@pytest.mark.parametrize("role", [None, "saas_operator"])
def test_i11_9_the_flag_lets_no_other_role_delete_even_an_expired_row(customer, admin_conn, admin_url, role):
    """Before 0034 the flag let the superuser, or any role holding DELETE, remove a >7-year-old row."""
    with db.tenant_transaction(customer, actor="test") as conn:
        recorder.record(conn, customer_id=customer, action="ancient.event", target_type="thing")
    age_newest_event(admin_url, customer, years=8)
    with psycopg.connect(admin_url) as conn:
        if role is not None:
            conn.execute(f"SET ROLE {role}")  # fixed names from this file only
        conn.execute("SET app.audit_retention_purge = 'on'")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute("DELETE FROM audit_events WHERE customer_id = %s", (customer,))
    assert [e["action"] for e in _events(admin_conn, customer)] == ["ancient.event"]


@pytest.mark.parametrize("role", ["saas_app", "saas_analytics", "saas_audit_outsider"])
def test_i11_9_only_the_jobs_role_may_execute_the_purge(admin_conn, admin_url, role):
    if role == "saas_audit_outsider":  # a brand-new login: what PUBLIC alone allows
        admin_conn.execute("DROP ROLE IF EXISTS saas_audit_outsider")
        admin_conn.execute("CREATE ROLE saas_audit_outsider LOGIN")
    try:
        with psycopg.connect(admin_url) as conn:
            conn.execute(f"SET ROLE {role}")  # fixed names from this file only
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute("SELECT purge_expired_audit_events()")
    finally:
        if role == "saas_audit_outsider":
            admin_conn.execute("DROP ROLE IF EXISTS saas_audit_outsider")


def test_i11_9_the_app_login_cannot_become_the_purge_role(app_url):
    with psycopg.connect(app_url) as conn, pytest.raises(pg_errors.InsufficientPrivilege):
        conn.execute("SET ROLE saas_audit_purge")


def test_i11_9_the_purge_deletes_expired_rows_only_and_the_chain_still_verifies(customer, admin_conn, admin_url):
    with db.tenant_transaction(customer, actor="test") as conn:
        recorder.record(conn, customer_id=customer, action="ancient.event", target_type="thing")
    age_newest_event(admin_url, customer, years=8)
    with db.tenant_transaction(customer, actor="test") as conn:
        recorder.record(conn, customer_id=customer, action="recent.event", target_type="thing")
    with db.operator_transaction() as conn:
        purged = conn.execute("SELECT purge_expired_audit_events() AS n").fetchone()["n"]
    assert purged >= 1
    assert [e["action"] for e in _events(admin_conn, customer)] == ["recent.event"]
    assert _verify(admin_conn, customer) == []
