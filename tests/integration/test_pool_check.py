"""The pool's check on hand-out (``core.db.check_connection``): no round trip for a healthy connection,
a dead one replaced before anyone uses it (docs/RELIABILITY.md, "A lost database connection")."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from psycopg_pool import ConnectionPool

from chalicelib.core import db


@pytest.fixture
def pool(app_url) -> Iterator[ConnectionPool[db.Connection]]:
    pool = db.make_pool(app_url, db.connection_kwargs(), min_size=1, max_size=1)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def round_trip_checks(monkeypatch) -> list[int]:
    """Counts the checks that made psycopg_pool's round trip (an empty query)."""
    calls: list[int] = []
    original = ConnectionPool.check_connection

    def counted(conn: db.Connection) -> None:
        calls.append(conn.info.backend_pid)
        original(conn)

    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(counted))
    return calls


def _pid(pool: ConnectionPool[db.Connection]) -> int:
    with pool.connection() as conn:
        return int(db.single_row(conn.execute("SELECT pg_backend_pid() AS pid"))["pid"])


def test_a_healthy_connection_is_handed_out_without_a_round_trip(pool, round_trip_checks) -> None:
    first = _pid(pool)
    for _ in range(5):
        assert _pid(pool) == first
    assert round_trip_checks == []


def test_a_terminated_backend_is_replaced_before_its_connection_is_used(pool, round_trip_checks, admin_conn) -> None:
    dead = _pid(pool)
    admin_conn.execute("SELECT pg_terminate_backend(%s)", (dead,))
    deadline = time.monotonic() + 10
    while admin_conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (dead,)).fetchone():
        assert time.monotonic() < deadline, "the backend outlived its termination"
        time.sleep(0.01)
    replacement = _pid(pool)  # the statement inside runs on a live connection: no error reaches us
    assert replacement != dead
    assert round_trip_checks == [dead]  # the dead one was checked (and failed), the new one was not
