"""Refresh tokens, families and logout in PostgreSQL (migration 0044), as the app login sees them.

The guarantees the DynamoDB records used to give, now as transactions: a
refresh token is redeemed once; presenting it again ends its whole family;
a revocation and a concurrent refresh are ordered by the family's row lock,
so the revocation never misses the session the refresh adds. The races are
made deterministic by holding one side's transaction open while the other
runs in a thread and waits on the lock.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

DAY, WEEK = timedelta(days=1), timedelta(days=7)


def _hash() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


def _open(conn, customer_id, key_id, *, refresh_hash, now=None):
    """Authenticate: a new session (its own family) with its refresh token; the new jti."""
    now = now or datetime.now(UTC)
    jti = uuid.uuid4().hex
    row = conn.execute(
        "SELECT * FROM auth_open_session3(%s, 'customer', %s, %s, NULL, NULL, %s, %s, 'key', %s, %s)",
        (jti, customer_id, key_id, now + DAY, now, refresh_hash, now + WEEK),
    ).fetchone()
    assert row["key_live"] and row["holder_active"]
    return jti


def _refresh(conn, refresh_hash, *, new_hash=None, now=None):
    now = now or datetime.now(UTC)
    jti = uuid.uuid4().hex
    row = conn.execute(
        "SELECT * FROM auth_refresh_session(%s, %s, %s, %s, %s, %s)",
        (refresh_hash, jti, now + DAY, new_hash or _hash(), now + WEEK, now),
    ).fetchone()
    return row | {"jti": jti}


def _live(conn, customer_id, key_id, jti) -> bool:
    return conn.execute(
        "SELECT session_live FROM auth_request_state2('customer', %s, %s, NULL, %s, now())", (customer_id, key_id, jti)
    ).fetchone()["session_live"]


@pytest.fixture
def app(app_url):
    with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def second(app_url):
    """Another app connection, in explicit transactions: the side of a race that holds its locks."""
    with psycopg.connect(app_url, row_factory=dict_row) as conn:
        yield conn


def _in_thread(app_url, call):
    """Run ``call(conn)`` on a new app connection in a thread; wait until it is blocked on a lock."""
    result: dict = {}

    def run():
        with psycopg.connect(app_url, autocommit=True, row_factory=dict_row) as conn:
            result["value"] = call(conn)

    thread = threading.Thread(target=run)
    thread.start()
    with psycopg.connect(app_url, autocommit=True) as watcher:
        for _ in range(500):  # up to 5 s: the thread's statement is waiting on a lock
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the second side never waited on the first one's lock")
    return thread, result


def test_a_refresh_token_is_redeemed_once_and_the_old_session_ends(app, key_row):
    customer_id, key_id, _ = key_row
    first_hash = _hash()
    first = _open(app, customer_id, key_id, refresh_hash=first_hash)
    done = _refresh(app, first_hash)
    assert (done["outcome"], done["previous_jti"], done["session_family"]) == ("ok", first, first)
    assert (done["key_live"], done["holder_active"]) == (True, True)
    assert not _live(app, customer_id, key_id, first) and _live(app, customer_id, key_id, done["jti"])
    assert _refresh(app, _hash())["outcome"] == "unknown"


def test_reuse_revokes_every_session_of_the_family_and_no_other(app, key_row):
    customer_id, key_id, _ = key_row
    first_hash, second_hash = _hash(), _hash()
    first = _open(app, customer_id, key_id, refresh_hash=first_hash)
    other = _open(app, customer_id, key_id, refresh_hash=_hash())  # another authentication: another family
    second = _refresh(app, first_hash, new_hash=second_hash)
    third = _refresh(app, second_hash)
    assert _live(app, customer_id, key_id, third["jti"])
    reused = _refresh(app, first_hash)
    assert (reused["outcome"], reused["session_family"]) == ("reused", first)
    for jti in (first, second["jti"], third["jti"]):
        assert not _live(app, customer_id, key_id, jti)
    assert _refresh(app, second_hash)["outcome"] == "reused"
    assert _live(app, customer_id, key_id, other)


def test_an_expired_refresh_token_is_unknown_and_a_used_one_is_reuse_even_when_expired(app, key_row):
    customer_id, key_id, _ = key_row
    first_hash, second_hash = _hash(), _hash()
    _open(app, customer_id, key_id, refresh_hash=first_hash)
    assert _refresh(app, first_hash, new_hash=second_hash)["outcome"] == "ok"
    later = datetime.now(UTC) + WEEK + DAY  # the caller's clock: both tokens are past their expiry
    assert _refresh(app, second_hash, now=later)["outcome"] == "unknown"
    assert _refresh(app, first_hash, now=later)["outcome"] == "reused"


def test_a_dead_key_refuses_the_refresh_without_spending_the_token(app, admin_conn, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    _open(app, customer_id, key_id, refresh_hash=refresh_hash)
    admin_conn.execute("UPDATE api_keys SET revoked_at = now() + interval '1 hour' WHERE id = %s", (key_id,))
    refused = _refresh(app, refresh_hash, now=datetime.now(UTC) + timedelta(hours=2))
    assert (refused["outcome"], refused["key_live"]) == ("refused", False)
    assert _refresh(app, refresh_hash)["outcome"] == "ok"  # the overlap had not ended yet by this clock


def test_a_token_issued_before_a_suspension_stays_dead_after_reactivation(app, admin_conn, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    _open(app, customer_id, key_id, refresh_hash=refresh_hash)
    admin_conn.execute("UPDATE customers SET status = 'suspended' WHERE id = %s", (customer_id,))
    suspended = _refresh(app, refresh_hash)
    assert (suspended["outcome"], suspended["holder_active"]) == ("refused", False)
    admin_conn.execute("UPDATE customers SET status = 'active' WHERE id = %s", (customer_id,))
    assert _refresh(app, refresh_hash)["outcome"] == "revoked"


def test_logout_ends_the_family_and_its_refresh_token(app, key_row):
    customer_id, key_id, _ = key_row
    first_hash, second_hash = _hash(), _hash()
    first = _open(app, customer_id, key_id, refresh_hash=first_hash)
    second = _refresh(app, first_hash, new_hash=second_hash)
    assert app.execute("SELECT auth_end_session(%s, now() + interval '7 days') AS n", (second["jti"],)).fetchone() == {
        "n": 1  # the one live session of the family (the first was refreshed away)
    }
    assert not _live(app, customer_id, key_id, second["jti"]) and not _live(app, customer_id, key_id, first)
    assert _refresh(app, second_hash)["outcome"] == "revoked"


def test_two_concurrent_refreshes_of_one_token_yield_one_pair_and_end_the_family(app_url, app, second, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    _open(app, customer_id, key_id, refresh_hash=refresh_hash)
    winner = _refresh(second, refresh_hash)  # in an open transaction: it holds the family's lock
    assert winner["outcome"] == "ok"
    thread, loser = _in_thread(app_url, lambda conn: _refresh(conn, refresh_hash))
    second.commit()
    thread.join(10)
    assert loser["value"]["outcome"] == "reused"
    assert not _live(app, customer_id, key_id, winner["jti"])  # the pair that got out is ended too


def test_a_logout_that_commits_first_refuses_a_concurrent_refresh(app_url, app, second, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    jti = _open(app, customer_id, key_id, refresh_hash=refresh_hash)
    second.execute("SELECT auth_end_session(%s, now() + interval '7 days')", (jti,))
    thread, refreshed = _in_thread(app_url, lambda conn: _refresh(conn, refresh_hash))
    second.commit()
    thread.join(10)
    assert refreshed["value"]["outcome"] == "revoked"
    assert app.execute("SELECT count(*) AS n FROM auth_refresh_holder(%s)", (refresh_hash,)).fetchone()["n"] == 1
    assert not _live(app, customer_id, key_id, refreshed["value"]["jti"])  # never opened


def test_a_refresh_that_commits_first_is_listed_by_a_concurrent_logout(app_url, app, second, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    jti = _open(app, customer_id, key_id, refresh_hash=refresh_hash)
    refreshed = _refresh(second, refresh_hash)
    assert refreshed["outcome"] == "ok"
    thread, ended = _in_thread(
        app_url,
        lambda conn: conn.execute("SELECT auth_end_session(%s, %s) AS n", (jti, datetime.now(UTC) + WEEK)).fetchone(),
    )
    second.commit()
    thread.join(10)
    assert ended["value"]["n"] == 1  # the session the refresh added
    assert not _live(app, customer_id, key_id, refreshed["jti"])


def test_purge_keeps_a_row_while_its_refresh_token_lives(app, admin_conn, key_row):
    customer_id, key_id, _ = key_row
    refresh_hash = _hash()
    past = datetime.now(UTC) - 2 * DAY  # the access token expired a day ago; the refresh token lives 5 more days
    jti = _open(app, customer_id, key_id, refresh_hash=refresh_hash, now=past)
    gone = uuid.uuid4().hex
    admin_conn.execute(
        "INSERT INTO auth_sessions (jti, expires_at, refresh_expires_at) VALUES (%s, now() - interval '1 day',"
        " now() - interval '1 hour')",
        (gone,),
    )
    app.execute("SELECT auth_purge_sessions(100000)")
    left = {r["jti"] for r in admin_conn.execute("SELECT jti FROM auth_sessions WHERE jti IN (%s, %s)", (jti, gone))}
    assert left == {jti}
    assert _refresh(app, refresh_hash)["outcome"] == "ok"
