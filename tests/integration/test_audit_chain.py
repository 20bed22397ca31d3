"""The audit trail is append-only for every role and tamper-evident."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from chalicelib.audit import recorder
from chalicelib.core import db
from tests.audit_support import age_newest_event


@pytest.fixture
def customer(make_customer):
    return make_customer()


def _append(customer_id, n: int = 1, action: str = "thing.done") -> None:
    for i in range(n):
        with db.tenant_transaction(customer_id) as conn:
            recorder.record(
                conn,
                customer_id=customer_id,
                action=action,
                target_type="thing",
                target_id=uuid.uuid4(),
                detail={"i": i, "note": "ünïcode ✓"},
                actor="test",
            )


def _verify(admin_conn, customer_id):
    return admin_conn.execute("SELECT * FROM verify_audit_chain(%s)", (customer_id,)).fetchall()


def test_appended_events_form_an_intact_chain(customer, admin_conn):
    _append(customer, 4)
    rows = admin_conn.execute(
        "SELECT chain_seq, prev_hash, hash FROM audit_events WHERE customer_id = %s ORDER BY chain_seq", (customer,)
    ).fetchall()
    assert [r["chain_seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev_hash"] is None
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, 4))
    assert _verify(admin_conn, customer) == []


def test_a_tenant_can_verify_its_own_chain_but_not_see_others(customer, make_customer):
    other = make_customer()
    _append(customer, 2)
    _append(other, 1)
    with db.tenant_transaction(customer) as conn:
        assert conn.execute("SELECT * FROM verify_audit_chain(%s)", (customer,)).fetchall() == []
        seen = {r["customer_id"] for r in conn.execute("SELECT customer_id FROM audit_events").fetchall()}
    assert seen == {customer}


def test_concurrent_appends_to_one_chain_stay_linked(customer, admin_conn):
    threads = [threading.Thread(target=_append, args=(customer, 5)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seqs = [
        r["chain_seq"]
        for r in admin_conn.execute(
            "SELECT chain_seq FROM audit_events WHERE customer_id = %s ORDER BY chain_seq", (customer,)
        ).fetchall()
    ]
    assert seqs == list(range(1, 21))
    assert _verify(admin_conn, customer) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory' WHERE customer_id = %(c)s",
        "DELETE FROM audit_events WHERE customer_id = %(c)s",
    ],
)
def test_superuser_cannot_change_or_delete_events(customer, admin_conn, statement):
    _append(customer)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        admin_conn.execute(statement, {"c": customer})


def test_the_owner_cannot_truncate(customer, admin_url):
    _append(customer)
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET ROLE saas_admin")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute("TRUNCATE audit_events")


def test_the_operator_role_cannot_delete_recent_events(customer, admin_conn):
    _append(customer)
    # Since migration 0034 it holds no DELETE at all (only the purge's own role does).
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table audit_events"),
        db.operator_transaction() as conn,
    ):
        conn.execute("DELETE FROM audit_events WHERE customer_id = %s", (customer,))
    assert (
        admin_conn.execute("SELECT count(*) AS n FROM audit_events WHERE customer_id = %s", (customer,)).fetchone()["n"]
        == 1
    )


def test_the_app_role_cannot_update_or_delete(customer):
    _append(customer)
    for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.tenant_transaction(customer) as conn:
            conn.execute(statement)


def _tamper(admin_url: str, statement: str, params: dict) -> None:
    """What an attacker with superuser rights could do: bypass the triggers and edit rows."""
    with psycopg.connect(admin_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def test_verify_names_the_first_edited_event(customer, admin_conn, admin_url):
    _append(customer, 4)
    target = admin_conn.execute(
        "SELECT id FROM audit_events WHERE customer_id = %s AND chain_seq = 2", (customer,)
    ).fetchone()["id"]
    _tamper(admin_url, "UPDATE audit_events SET detail = '{\"i\": 99}' WHERE id = %(id)s", {"id": target})
    broken = _verify(admin_conn, customer)
    assert len(broken) == 1
    assert broken[0]["event_id"] == target
    assert broken[0]["problem"] == "content does not match its hash"


def test_verify_detects_a_deleted_event(customer, admin_conn, admin_url):
    _append(customer, 4)
    _tamper(admin_url, "DELETE FROM audit_events WHERE customer_id = %(c)s AND chain_seq = 2", {"c": customer})
    broken = _verify(admin_conn, customer)
    assert [(r["chain_seq"], r["problem"]) for r in broken] == [(3, "prev_hash does not match the previous event")]


def test_retention_purges_only_events_older_than_seven_years(customer, admin_conn, admin_url):
    _append(customer, 1, action="ancient.event")
    age_newest_event(admin_url, customer, years=8)
    _append(customer, 2)
    assert _verify(admin_conn, customer) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        admin_conn.execute("DELETE FROM audit_events WHERE customer_id = %s AND action = 'ancient.event'", (customer,))
    with db.operator_transaction() as conn:
        conn.execute("SELECT purge_expired_audit_events()")
    actions = [
        r["action"]
        for r in admin_conn.execute(
            "SELECT action FROM audit_events WHERE customer_id = %s ORDER BY chain_seq", (customer,)
        ).fetchall()
    ]
    assert actions == ["thing.done", "thing.done"]
    assert _verify(admin_conn, customer) == []
