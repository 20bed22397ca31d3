"""auth_sessions and its SECURITY DEFINER functions (migration 0011), as the app login sees them."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row


def _open(conn, jti, customer_id, key_id, now=None):
    now = now or datetime.now(UTC)
    return conn.execute(
        "SELECT * FROM auth_open_session(%s, 'customer', %s, %s, %s, %s)",
        (jti, customer_id, key_id, now + timedelta(hours=24), now),
    ).fetchone()


def _state(conn, jti, customer_id, key_id, role="customer"):
    return conn.execute(
        "SELECT * FROM auth_request_state(%s, %s, %s, %s, %s)", (role, customer_id, key_id, jti, datetime.now(UTC))
    ).fetchone()


def test_open_then_state_then_revoke(app_url, key_row):
    customer_id, key_id, _ = key_row
    jti = uuid.uuid4().hex
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        assert _open(conn, jti, customer_id, key_id) == {"key_live": True, "holder_active": True}
        assert _state(conn, jti, customer_id, key_id) == {"session_live": True, "key_live": True, "holder_active": True}
        assert _state(conn, jti, uuid.uuid4(), key_id)["session_live"] is False  # another subject
        assert _state(conn, jti, customer_id, key_id, role="operator")["session_live"] is False
        conn.execute("SELECT auth_revoke_sessions(%s, %s)", ([jti], datetime.now(UTC) + timedelta(days=1)))
        assert _state(conn, jti, customer_id, key_id)["session_live"] is False


def test_a_revocation_that_arrives_first_is_not_undone_by_the_open(app_url, key_row):
    customer_id, key_id, _ = key_row
    jti = uuid.uuid4().hex
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("SELECT auth_revoke_sessions(%s, %s)", ([jti], datetime.now(UTC) + timedelta(days=1)))
        _open(conn, jti, customer_id, key_id)
        assert _state(conn, jti, customer_id, key_id)["session_live"] is False


def test_no_session_is_opened_for_a_dead_key_or_suspended_customer(app_url, admin_url, key_row):
    customer_id, key_id, _ = key_row
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("UPDATE customers SET status = 'suspended' WHERE id = %s", (customer_id,))
    jti = uuid.uuid4().hex
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        assert _open(conn, jti, customer_id, key_id) == {"key_live": True, "holder_active": False}
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("UPDATE customers SET status = 'active' WHERE id = %s", (customer_id,))
        admin.execute("UPDATE api_keys SET revoked_at = now() + interval '1 hour' WHERE id = %s", (key_id,))
        assert admin.execute("SELECT count(*) FROM auth_sessions WHERE jti = %s", (jti,)).fetchone()[0] == 0
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        # A rotation's overlap end in the future: still live now, dead once the caller's clock passes it.
        assert _state(conn, jti, customer_id, key_id)["key_live"] is True
        later = datetime.now(UTC) + timedelta(hours=2)
        assert _open(conn, uuid.uuid4().hex, customer_id, key_id, now=later)["key_live"] is False


def test_the_app_role_cannot_touch_auth_sessions_directly(app_url):
    with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT count(*) FROM auth_sessions")


def test_purge_deletes_only_expired_rows(app_url, admin_url):
    live, dead = uuid.uuid4().hex, uuid.uuid4().hex
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            "INSERT INTO auth_sessions (jti, expires_at) VALUES (%s, now() + interval '1 hour'),"
            " (%s, now() - interval '1 hour')",
            (live, dead),
        )
    with psycopg.connect(app_url, autocommit=True) as conn:
        assert conn.execute("SELECT auth_purge_sessions(100000)").fetchone()[0] >= 1
    with psycopg.connect(admin_url, autocommit=True) as admin:
        left = {r[0] for r in admin.execute("SELECT jti FROM auth_sessions WHERE jti IN (%s, %s)", (live, dead))}
    assert left == {live}
