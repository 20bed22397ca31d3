"""The guard's per-kind statements (migration 0045) answer as ``auth_request_state2`` did, change by change.

Issue 16 replaced the guard's one general function with one per kind of
session (an API key's, a person's, an operator's). Each is read through the
app login after every change the guarantees are about - a key revoked or
expired, a customer suspended and reactivated, a logout, a person's role,
password or MFA change (their session epoch), a person removed, an operator
disabled, a tenant requiring MFA - and must give exactly the answer of the
old function, and the answer the guarantee requires, on the very next call.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

DAY, WEEK = timedelta(days=1), timedelta(days=7)
COLUMNS = "session_live, key_live, holder_active, tenant_role, require_mfa"


def _hash() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


@pytest.fixture
def app(app_url):
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _open(app, role, subject, key_id, user_id, epoch, amr) -> str:
    now = datetime.now(UTC)
    jti = uuid.uuid4().hex
    row = app.execute(
        "SELECT * FROM auth_open_session3(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (jti, role, subject, key_id, user_id, epoch, now + DAY, now, amr, _hash(), now + WEEK),
    ).fetchone()
    assert row["key_live"] and row["holder_active"]
    return jti


class Session:
    """One live session and the two ways of asking about it."""

    def __init__(self, app, function: str, role: str, subject, key_id, user_id, jti: str) -> None:
        self.app, self.function, self.role = app, function, role
        self.subject, self.key_id, self.user_id, self.jti = subject, key_id, user_id, jti

    def states(self, *, subject=None, credential=None, jti=None, at=None) -> tuple[dict, dict]:
        subject = subject or self.subject
        jti = jti or self.jti
        at = at or datetime.now(UTC)
        key_id, user_id = (self.key_id, None) if self.user_id is None else (None, self.user_id)
        if credential is not None:
            key_id, user_id = (credential, None) if self.user_id is None else (None, credential)
        old = self.app.execute(
            f"SELECT {COLUMNS} FROM auth_request_state2(%s, %s, %s, %s, %s, %s)",
            (self.role, subject, key_id, user_id, jti, at),
        ).fetchone()
        new = self.app.execute(
            f"SELECT {COLUMNS} FROM {self.function}(%s, %s, %s, %s)",
            (jti, subject, key_id if user_id is None else user_id, at),
        ).fetchone()
        return old, new

    def state(self, **kwargs) -> dict:
        old, new = self.states(**kwargs)
        assert new == old
        return new


@pytest.fixture
def key_session(app, key_row):
    customer_id, key_id, _ = key_row
    jti = _open(app, "customer", customer_id, key_id, None, None, "key")
    return Session(app, "auth_key_session_state", "customer", customer_id, key_id, None, jti)


@pytest.fixture
def person_session(app, admin_conn, make_customer):
    customer_id = make_customer()
    user = admin_conn.execute(
        "INSERT INTO users (customer_id, email, name, role, password_hash) VALUES (%s, %s, 'P', 'admin', 'x')"
        " RETURNING id, session_epoch",
        (customer_id, f"{uuid.uuid4().hex[:12]}@example.test"),
    ).fetchone()
    jti = _open(app, "customer", customer_id, None, user["id"], user["session_epoch"], "pwd")
    return Session(app, "auth_user_session_state", "customer", customer_id, None, user["id"], jti)


@pytest.fixture
def operator_session(app, admin_conn):
    operator_id = admin_conn.execute(
        "INSERT INTO operators (name, email) VALUES ('O', %s) RETURNING id", (f"{uuid.uuid4().hex[:12]}@ops.test",)
    ).fetchone()["id"]
    key_id = admin_conn.execute(
        "INSERT INTO operator_api_keys (operator_id, name, public_id, secret_hash) VALUES (%s, 'k', %s, %s)"
        " RETURNING id",
        # A hash no log line can contain by chance: the secret-hygiene test looks for every stored hash.
        (operator_id, uuid.uuid4().hex[:12], f"unused-hash-{uuid.uuid4().hex}"),
    ).fetchone()["id"]
    jti = _open(app, "operator", operator_id, key_id, None, None, "key")
    return Session(app, "auth_operator_session_state", "operator", operator_id, key_id, None, jti)


LIVE = {"session_live": True, "key_live": True, "holder_active": True}


def _sql(statement: str) -> Callable[[dict, Session], None]:
    def change(admin_conn: dict, session: Session) -> None:
        admin_conn.execute(statement, {"subject": session.subject, "key": session.key_id, "user": session.user_id})

    return change


def test_a_key_session_is_live_then_dead_after_each_change(admin_conn, key_session):
    assert key_session.state() == LIVE | {"tenant_role": "developer", "require_mfa": False}
    steps = [
        ("revoked in an hour", "UPDATE api_keys SET revoked_at = now() + interval '1 hour' WHERE id = %(key)s", LIVE),
        ("role lowered", "UPDATE api_keys SET role = 'viewer' WHERE id = %(key)s", LIVE | {"tenant_role": "viewer"}),
        ("MFA required", "UPDATE customers SET require_mfa = true WHERE id = %(subject)s", {"require_mfa": True}),
        (
            "expired",
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = %(key)s",
            {"session_live": True, "key_live": False, "holder_active": True},
        ),
        ("unexpired", "UPDATE api_keys SET expires_at = NULL, revoked_at = NULL WHERE id = %(key)s", LIVE),
        (
            "suspended",
            "UPDATE customers SET status = 'suspended' WHERE id = %(subject)s",
            {"session_live": False, "key_live": True, "holder_active": False},
        ),
        (
            "reactivated",
            "UPDATE customers SET status = 'active' WHERE id = %(subject)s",
            {"session_live": False, "key_live": True, "holder_active": True},
        ),
        ("revoked", "UPDATE api_keys SET revoked_at = now() WHERE id = %(key)s", {"key_live": False}),
    ]
    for name, statement, expected in steps:
        _sql(statement)(admin_conn, key_session)
        state = key_session.state()
        assert state | expected == state, name


def test_a_key_session_ends_at_logout(key_session):
    key_session.app.execute("SELECT auth_end_session(%s, now() + interval '7 days')", (key_session.jti,))
    assert key_session.state() == LIVE | {"session_live": False, "tenant_role": "developer", "require_mfa": False}


def test_a_person_session_ends_with_an_epoch_bump_removal_or_suspension(admin_conn, person_session):
    assert person_session.state() == LIVE | {"tenant_role": "admin", "require_mfa": False}
    _sql("UPDATE users SET role = 'viewer' WHERE id = %(user)s")(admin_conn, person_session)
    assert person_session.state() == LIVE | {"tenant_role": "viewer", "require_mfa": False}
    _sql("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %(user)s")(admin_conn, person_session)
    assert person_session.state()["session_live"] is False  # a password, role or MFA change
    _sql("UPDATE users SET session_epoch = session_epoch - 1 WHERE id = %(user)s")(admin_conn, person_session)
    assert person_session.state()["session_live"] is True
    _sql("UPDATE customers SET status = 'suspended' WHERE id = %(subject)s")(admin_conn, person_session)
    assert person_session.state() == {
        "session_live": False,
        "key_live": True,
        "holder_active": False,
        "tenant_role": "viewer",
        "require_mfa": False,
    }
    _sql("DELETE FROM users WHERE id = %(user)s")(admin_conn, person_session)
    assert person_session.state() == {
        "session_live": False,
        "key_live": False,
        "holder_active": False,
        "tenant_role": None,
        "require_mfa": False,
    }


def test_an_operator_session_ends_when_the_operator_is_disabled_or_the_key_revoked(admin_conn, operator_session):
    assert operator_session.state() == LIVE | {"tenant_role": None, "require_mfa": False}
    _sql("UPDATE operators SET disabled_at = now() WHERE id = %(subject)s")(admin_conn, operator_session)
    assert operator_session.state() == LIVE | {"holder_active": False, "tenant_role": None, "require_mfa": False}
    _sql("UPDATE operators SET disabled_at = NULL WHERE id = %(subject)s")(admin_conn, operator_session)
    _sql("UPDATE operator_api_keys SET revoked_at = now() WHERE id = %(key)s")(admin_conn, operator_session)
    assert operator_session.state()["key_live"] is False


@pytest.mark.parametrize("kind", ["key_session", "person_session", "operator_session"])
def test_a_token_that_does_not_match_its_session_is_dead(request, kind):
    session: Session = request.getfixturevalue(kind)
    other = uuid.uuid4()
    assert session.state(jti=uuid.uuid4().hex)["session_live"] is False
    assert session.state(subject=other) == {
        "session_live": False,
        "key_live": False,
        "holder_active": False,
        "tenant_role": None,
        "require_mfa": False,
    }
    assert session.state(credential=other)["session_live"] is False
    assert session.state(credential=other)["key_live"] is False
    assert session.state(at=datetime.now(UTC) + 2 * DAY)["session_live"] is False  # past the token's exp
