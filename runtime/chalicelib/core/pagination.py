"""Opaque keyset cursors: base64url of a small JSON list of sort-key values.

A cursor that does not decode to what the endpoint expects is a 400, never a
500: clients must treat cursors as opaque, so anything else is malformed input.
"""
from __future__ import annotations

import base64
import json
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
