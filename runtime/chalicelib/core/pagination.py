"""Keyset pages: every list endpoint's one way to fetch, slice and continue.

A list is ordered newest first on ``(sort key, id)``, both descending, and a
page's repository query is one statement in one style (the sort key may be a
``timestamptz`` or a ``date``)::

    WHERE %(after_created_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
    ORDER BY created_at DESC, id DESC
    LIMIT %(limit)s

:func:`keyset_page` asks the repository for ``limit + 1`` rows after the
cursor's key, keeps ``limit`` and, when there was one more, returns the
cursor after the last row kept. The page size (1-100, default 50) is
:class:`~chalicelib.core.models.PageQuery`'s rule and nowhere else.

A cursor is opaque: base64url of a small JSON list of the last row's sort
key and id. One that does not decode to what the endpoint expects is a 400,
never a 500: clients must treat cursors as opaque, so anything else is
malformed input.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from chalicelib.core.errors import BadRequest
from chalicelib.core.models import PageQuery

# The key of the last row of a page: its sort value (a timestamp or a date) and its id.
Keyset = tuple[date, uuid.UUID]
Row = TypeVar("Row", bound=Mapping[str, Any])


def keyset_page(
    query: PageQuery,
    fetch: Callable[[int, Keyset | None], Sequence[Row]],
    *,
    sort: str = "created_at",
    by_date: bool = False,
) -> tuple[list[Row], str | None]:
    """One page of a list ordered by ``(sort DESC, id DESC)``, and the cursor to the next (``None``: last page).

    Parameters
    ----------
    query
        The request's ``limit`` and ``cursor``; a malformed cursor is a 400.
    fetch
        ``fetch(limit, after)``: up to ``limit`` rows whose ``(sort, id)`` is
        below ``after`` (all rows from the newest when ``None``), newest first.
    sort
        The rows' sort column.
    by_date
        The sort column is a ``date`` (else an aware ``datetime``).
    """
    rows = fetch(query.limit + 1, decode_keyset(query.cursor, by_date=by_date))
    items = list(rows[: query.limit])
    if len(rows) <= query.limit:
        return items, None
    return items, encode_keyset(items[-1][sort], items[-1]["id"])


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[str] | None:
    """Decode a cursor into ``arity`` strings, or ``None`` when absent; 400 when malformed."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError) as exc:
        raise BadRequest("cursor is malformed") from exc
    if not isinstance(values, list) or len(values) != arity or not all(isinstance(v, str) for v in values):
        raise BadRequest("cursor is malformed")
    return values


def encode_keyset(at: date, row_id: uuid.UUID) -> str:
    """The cursor after a row of a list ordered by ``(sort DESC, id DESC)``."""
    return encode_cursor(at.isoformat(), row_id)


def decode_keyset(cursor: str | None, *, by_date: bool = False) -> Keyset | None:
    """Inverse of :func:`encode_keyset`; ``None`` when absent, 400 when malformed.

    The sort value is an aware ``datetime``, or with ``by_date`` a ``date``.
    """
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at: date = date.fromisoformat(values[0]) if by_date else datetime.fromisoformat(values[0])
        row_id = uuid.UUID(values[1])
    except ValueError as exc:
        raise BadRequest("cursor is malformed") from exc
    if isinstance(at, datetime) and at.tzinfo is None:
        raise BadRequest("cursor is malformed")
    return at, row_id
