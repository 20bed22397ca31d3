"""Opaque keyset cursors: base64url of a small JSON list of sort-key values.

A cursor that does not decode to what the endpoint expects is a 400, never a
500: clients must treat cursors as opaque, so anything else is malformed input.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from chalicelib.core.errors import BadRequest


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


def encode_keyset(at: datetime, row_id: uuid.UUID) -> str:
    """The cursor after a row of a list ordered by ``(timestamp DESC, id DESC)``."""
    return encode_cursor(at.isoformat(), row_id)


def decode_keyset(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Inverse of :func:`encode_keyset`; ``None`` when absent, 400 when malformed."""
    values = decode_cursor(cursor, 2)
    if values is None:
        return None
    try:
        at, row_id = datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except ValueError as exc:
        raise BadRequest("cursor is malformed") from exc
    if at.tzinfo is None:
        raise BadRequest("cursor is malformed")
    return at, row_id
