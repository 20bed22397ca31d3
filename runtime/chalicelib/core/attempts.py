"""Retrying work once when the database connection is lost (used through ``core.db``).

Every unit of work (``core.db``) records here, for the current attempt, whether
it committed something and whether it died *during* ``COMMIT`` (then nobody
knows whether it was applied). :func:`retry_once_if_lost` reruns work only
when neither happened.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import psycopg

from chalicelib.core.observability import logger

# What the database can fail with that is worth one more attempt on a fresh connection: the
# connection died (AdminShutdown, "server closed the connection", "the connection is closed"),
# the pool could not hand one out in time (PoolTimeout), a deadlock or serialization failure.
LOST = (psycopg.OperationalError, psycopg.InterfaceError)


class _Attempt:
    """What the units of work of one attempt did: ``committed`` something, or died ``in_commit``."""

    __slots__ = ("committed", "in_commit")

    def __init__(self) -> None:
        self.committed = False
        self.in_commit = False

    @property
    def retryable(self) -> bool:
        return not self.committed and not self.in_commit


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("db_attempt", default=None)


def committed() -> None:
    """A unit of work of the current attempt committed."""
    attempt = _attempt.get()
    if attempt is not None:
        attempt.committed = True


def died_in_commit() -> None:
    """A unit of work of the current attempt lost its connection during ``COMMIT``: outcome unknown."""
    attempt = _attempt.get()
    if attempt is not None:
        attempt.in_commit = True


def retry_once_if_lost(work: Callable[[], Any], *, what: str = "request") -> Any:
    """Run ``work``; if the database fails it before anything was committed, run it once more.

    The second attempt gets a fresh connection (the pool checks connections
    when it hands them out and drops dead ones). Anything else — a second
    failure, or a failure after a commit or during one — propagates: the
    caller answers ``503`` and the client retries with the same request
    (ingestion is idempotent per event id, so nothing is counted twice).
    """
    outer = _attempt.get()
    for attempt_number in (1, 2):
        attempt = _Attempt()
        token = _attempt.set(attempt)
        try:
            return work()
        except LOST as exc:
            if attempt_number == 2 or not attempt.retryable:
                raise
            logger.warning("database connection lost; retrying once", extra={"what": what, "error": type(exc).__name__})
        finally:
            _attempt.reset(token)
            if outer is not None:  # nested: what this work committed, the enclosing attempt did too
                outer.committed |= attempt.committed
                outer.in_commit |= attempt.in_commit
    raise AssertionError("unreachable")
