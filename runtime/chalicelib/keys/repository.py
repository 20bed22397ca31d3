"""SQL for ``api_keys``. Always called inside ``tenant_transaction`` (or the operator's
onboarding transaction): row-level security, not a WHERE clause, scopes the rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.core import errors
from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

INSERT = """
INSERT INTO api_keys (customer_id, name, prefix, public_id, secret_hash, expires_at, rotated_from, role)
VALUES (%(customer_id)s, %(name)s, %(prefix)s, %(public_id)s, %(secret_hash)s, %(expires_at)s, %(rotated_from)s,
        %(role)s)
RETURNING id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at, rotated_from, role
"""
GET = "SELECT id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at, rotated_from, role FROM api_keys WHERE id = %(id)s"
GET_FOR_UPDATE = "SELECT id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at, rotated_from, role FROM api_keys WHERE id = %(id)s FOR UPDATE"
# Newest first: a keyset page (core.pagination) on api_keys_customer_idx.
LIST_PAGE = """
SELECT id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at, rotated_from, role
  FROM api_keys
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
# A key that still authenticates: not revoked yet (a rotation's overlap) and not expired.
LIVE = "(revoked_at IS NULL OR revoked_at > now()) AND (expires_at IS NULL OR expires_at > now())"
COUNT_LIVE = f"SELECT count(*) AS n FROM api_keys WHERE {LIVE}"
LIVE_NAMED = f"SELECT id FROM api_keys WHERE name = ANY(%(names)s) AND {LIVE} ORDER BY created_at, id"
# Serializes every change to one tenant's set of live keys (create, rotate)
# until the transaction ends: count-then-insert cannot interleave. An advisory
# lock, not SELECT ... FOR UPDATE on the customer row: the app role may not
# update customers, and the key is the tenant alone.
LOCK_TENANT_KEYS = "SELECT pg_advisory_xact_lock(hashtextextended('api_keys:' || %(customer_id)s::text, 0))"
# Operator path (sees every tenant): the filter names the customer explicitly.
IDS_OF_CUSTOMER = "SELECT id FROM api_keys WHERE customer_id = %(customer_id)s"
# Revoking now never postpones an earlier revocation (e.g. a rotation's overlap end).
REVOKE = """
UPDATE api_keys SET revoked_at = least(coalesce(revoked_at, 'infinity'), %(at)s)
 WHERE id = %(id)s RETURNING id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at, rotated_from, role
"""


def insert(
    conn: Connection,
    *,
    customer_id: uuid.UUID,
    name: str,
    prefix: str,
    public_id: str,
    secret_hash: str,
    expires_at: datetime | None,
    rotated_from: uuid.UUID | None = None,
    role: str,
) -> dict[str, Any]:
    params = {
        "role": role,
        "customer_id": customer_id,
        "name": name,
        "prefix": prefix,
        "public_id": public_id,
        "secret_hash": secret_hash,
        "expires_at": expires_at,
        "rotated_from": rotated_from,
    }
    try:
        return single_row(conn.execute(INSERT, params))  # INSERT ... RETURNING: one row, or it raised
    except pg_errors.UniqueViolation as exc:
        raise errors.Conflict("Key id collision; try again") from exc


def get(conn: Connection, key_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    return conn.execute(GET_FOR_UPDATE if for_update else GET, {"id": key_id}).fetchone()


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` of the tenant's keys older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def lock_tenant_keys(conn: Connection, customer_id: uuid.UUID) -> None:
    conn.execute(LOCK_TENANT_KEYS, {"customer_id": customer_id})


def live_ids_named(conn: Connection, names: list[str]) -> list[uuid.UUID]:
    """The tenant's live keys with one of ``names`` (row-level security confines it to the tenant)."""
    return [row["id"] for row in conn.execute(LIVE_NAMED, {"names": names}).fetchall()]


def count_live(conn: Connection) -> int:
    live: int = single_row(conn.execute(COUNT_LIVE))["n"]  # count(*): one row
    return live


def ids_of_customer(conn: Connection, customer_id: uuid.UUID) -> list[uuid.UUID]:
    return [row["id"] for row in conn.execute(IDS_OF_CUSTOMER, {"customer_id": customer_id}).fetchall()]


def revoke(conn: Connection, key_id: uuid.UUID, at: datetime) -> dict[str, Any] | None:
    return conn.execute(REVOKE, {"id": key_id, "at": at}).fetchone()
