"""SQL for ``operator_api_keys``, always inside ``operator_transaction`` (role ``saas_operator``).

That role may read every column but ``secret_hash``, insert keys, and update
only ``revoked_at`` and ``last_used_at`` (migration 0035): nothing here reads a
hash back or changes a key's secret or expiry.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.core import errors
from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

INSERT = """
INSERT INTO operator_api_keys (operator_id, name, public_id, secret_hash, expires_at)
VALUES (%(operator_id)s, %(name)s, %(public_id)s, %(secret_hash)s, %(expires_at)s)
RETURNING id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at
"""
GET_FOR_UPDATE = """
SELECT id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at FROM operator_api_keys
 WHERE id = %(id)s FOR UPDATE
"""
# Newest first: a keyset page (core.pagination) on operator_api_keys_created_idx.
LIST_PAGE = """
SELECT id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at FROM operator_api_keys
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
# Revoking now never postpones an earlier revocation.
REVOKE = """
UPDATE operator_api_keys SET revoked_at = least(coalesce(revoked_at, 'infinity'), %(at)s)
 WHERE id = %(id)s RETURNING id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at
"""
# The live keys an operator holds under one name (the local bootstrap's "local-stack"), oldest first.
LIVE_NAMED_FOR_UPDATE = """
SELECT id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at FROM operator_api_keys
 WHERE operator_id = %(operator_id)s AND name = %(name)s
   AND (revoked_at IS NULL OR revoked_at > %(at)s) AND (expires_at IS NULL OR expires_at > %(at)s)
 ORDER BY created_at, id FOR UPDATE
"""


def insert(
    conn: Connection,
    *,
    operator_id: uuid.UUID,
    name: str,
    public_id: str,
    secret_hash: str,
    expires_at: datetime | None,
) -> dict[str, Any]:
    params = {
        "operator_id": operator_id,
        "name": name,
        "public_id": public_id,
        "secret_hash": secret_hash,
        "expires_at": expires_at,
    }
    try:
        return single_row(conn.execute(INSERT, params))  # INSERT ... RETURNING: one row, or it raised
    except pg_errors.UniqueViolation as exc:
        raise errors.Conflict("Key id collision; try again") from exc


def get_for_update(conn: Connection, key_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(GET_FOR_UPDATE, {"id": key_id}).fetchone()


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` operator keys older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def revoke(conn: Connection, key_id: uuid.UUID, at: datetime) -> dict[str, Any] | None:
    return conn.execute(REVOKE, {"id": key_id, "at": at}).fetchone()


def live_named_for_update(conn: Connection, *, operator_id: uuid.UUID, name: str, at: datetime) -> list[dict[str, Any]]:
    return conn.execute(LIVE_NAMED_FOR_UPDATE, {"operator_id": operator_id, "name": name, "at": at}).fetchall()
