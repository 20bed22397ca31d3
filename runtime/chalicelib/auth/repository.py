"""SQL for authentication: key lookup by public id, last-use stamps, operators and their keys.

The lookup runs before the tenant is known; it goes through the SECURITY
DEFINER functions of migration 0010 (owned by ``saas_auth``), never through
the operator role and never through "no tenant set".
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import errors as pg_errors

from chalicelib.core import errors

FIND_CUSTOMER_KEY = """
SELECT key_id, customer_id, secret_hash, expires_at, revoked_at, customer_status
  FROM auth_find_customer_key(%(public_id)s)
"""
FIND_OPERATOR_KEY = """
SELECT key_id, operator_id, secret_hash, expires_at, revoked_at, operator_disabled
  FROM auth_find_operator_key(%(public_id)s)
"""
TOUCH_CUSTOMER_KEY = "UPDATE api_keys SET last_used_at = now() WHERE id = %(key_id)s"
TOUCH_OPERATOR_KEY = "UPDATE operator_api_keys SET last_used_at = now() WHERE id = %(key_id)s"
UPSERT_OPERATOR = """
INSERT INTO operators (name, email) VALUES (%(name)s, %(email)s)
ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name
RETURNING id
"""
INSERT_OPERATOR_KEY = """
INSERT INTO operator_api_keys (operator_id, name, public_id, secret_hash, expires_at)
VALUES (%(operator_id)s, %(name)s, %(public_id)s, %(secret_hash)s, %(expires_at)s)
RETURNING id, created_at
"""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What authentication needs about one key; ``holder_active`` is customer status / operator enabled."""

    key_id: uuid.UUID
    role: str
    subject: uuid.UUID
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    holder_active: bool

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.subject if self.role == "customer" else None


def find_customer_key(conn: psycopg.Connection, public_id: str) -> StoredKey | None:
    row = conn.execute(FIND_CUSTOMER_KEY, {"public_id": public_id}).fetchone()
    if row is None:
        return None
    return StoredKey(key_id=row["key_id"], role="customer", subject=row["customer_id"], secret_hash=row["secret_hash"],
                     expires_at=row["expires_at"], revoked_at=row["revoked_at"],
                     holder_active=row["customer_status"] == "active")


def find_operator_key(conn: psycopg.Connection, public_id: str) -> StoredKey | None:
    row = conn.execute(FIND_OPERATOR_KEY, {"public_id": public_id}).fetchone()
    if row is None:
        return None
    return StoredKey(key_id=row["key_id"], role="operator", subject=row["operator_id"], secret_hash=row["secret_hash"],
                     expires_at=row["expires_at"], revoked_at=row["revoked_at"],
                     holder_active=not row["operator_disabled"])


def touch_key(conn: psycopg.Connection, role: str, key_id: uuid.UUID) -> None:
    conn.execute(TOUCH_CUSTOMER_KEY if role == "customer" else TOUCH_OPERATOR_KEY, {"key_id": key_id})


def upsert_operator(conn: psycopg.Connection, *, name: str, email: str) -> uuid.UUID:
    return conn.execute(UPSERT_OPERATOR, {"name": name, "email": email}).fetchone()["id"]


def insert_operator_key(conn: psycopg.Connection, *, operator_id: uuid.UUID, name: str, public_id: str,
                        secret_hash: str, expires_at: datetime | None) -> dict:
    try:
        return conn.execute(INSERT_OPERATOR_KEY, {"operator_id": operator_id, "name": name, "public_id": public_id,
                                                  "secret_hash": secret_hash, "expires_at": expires_at}).fetchone()
    except pg_errors.UniqueViolation as exc:
        raise errors.Conflict("Key id collision; try again") from exc
