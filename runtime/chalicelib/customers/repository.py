"""SQL for ``customers`` (tiers and their features are the catalog's: :mod:`chalicelib.catalog`).

Customer-facing reads run in ``tenant_transaction`` (RLS leaves one row);
operator reads and writes run in ``operator_transaction``.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from chalicelib.core import errors
from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

INSERT = """
INSERT INTO customers (name, email, tier_code, tax_rate, billing_start_date)
VALUES (%(name)s, %(email)s, %(tier)s, coalesce(%(tax_rate)s, 0.08),
        coalesce(%(billing_start_date)s, (now() AT TIME ZONE 'UTC')::date))
RETURNING *
"""
GET = "SELECT * FROM customers WHERE id = %(id)s"
GET_FOR_UPDATE = "SELECT * FROM customers WHERE id = %(id)s FOR UPDATE"
# RLS leaves exactly the caller's row inside tenant_transaction.
GET_OWN = "SELECT * FROM customers"
GET_OWN_FOR_UPDATE = "SELECT * FROM customers FOR UPDATE"
# The tenant's own settings: the only column the app role may change (migration 0038).
SET_REQUIRE_MFA = "UPDATE customers SET require_mfa = %(require_mfa)s RETURNING *"
# Newest first: a keyset page (core.pagination).
LIST_PAGE = """
SELECT * FROM customers
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
UPDATE = """
UPDATE customers SET
    tier_code = coalesce(%(tier)s, tier_code),
    status = coalesce(%(status)s, status),
    tax_rate = coalesce(%(tax_rate)s, tax_rate),
    email = coalesce(%(email)s, email),
    updated_at = now()
 WHERE id = %(id)s
RETURNING *
"""


def _translate(exc: psycopg.Error) -> errors.DomainError:
    if isinstance(exc, pg_errors.UniqueViolation):
        return errors.Conflict("A customer with this email already exists")
    if isinstance(exc, pg_errors.ForeignKeyViolation):
        return errors.Unprocessable("Unknown tier")
    if isinstance(exc, pg_errors.CheckViolation):
        return errors.Unprocessable("A value is out of range")
    raise exc


def insert(
    conn: Connection,
    *,
    name: str,
    email: str,
    tier: str,
    tax_rate: Decimal | None,
    billing_start_date: date | None,
) -> dict[str, Any]:
    params = {
        "name": name,
        "email": email,
        "tier": tier,
        "tax_rate": tax_rate,
        "billing_start_date": billing_start_date,
    }
    try:
        with conn.transaction():  # a savepoint: the error is translated, the outer unit decides
            return single_row(conn.execute(INSERT, params))  # INSERT ... RETURNING: one row, or it raised
    except (pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation, pg_errors.CheckViolation) as exc:
        raise _translate(exc) from exc


def update(
    conn: Connection,
    customer_id: uuid.UUID,
    *,
    tier: str | None,
    status: str | None,
    tax_rate: Decimal | None,
    email: str | None,
) -> dict[str, Any]:
    """The customer's row after the change. The caller holds the row's lock (``get(..., for_update=True)``)."""
    params = {"id": customer_id, "tier": tier, "status": status, "tax_rate": tax_rate, "email": email}
    try:
        with conn.transaction():
            return single_row(conn.execute(UPDATE, params))  # the locked row exists
    except (pg_errors.UniqueViolation, pg_errors.ForeignKeyViolation, pg_errors.CheckViolation) as exc:
        raise _translate(exc) from exc


def get(conn: Connection, customer_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    return conn.execute(GET_FOR_UPDATE if for_update else GET, {"id": customer_id}).fetchone()


def get_own(conn: Connection, *, for_update: bool = False) -> dict[str, Any] | None:
    return conn.execute(GET_OWN_FOR_UPDATE if for_update else GET_OWN).fetchone()


def set_require_mfa(conn: Connection, require_mfa: bool) -> dict[str, Any] | None:
    """The tenant's row with the new setting (in ``tenant_transaction``: RLS leaves the caller's row only)."""
    return conn.execute(SET_REQUIRE_MFA, {"require_mfa": require_mfa}).fetchone()


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` customers older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


FIND_BY_EMAIL = "SELECT * FROM customers WHERE lower(email) = lower(%(email)s)"


def find_by_email(conn: Connection, email: str) -> dict[str, Any] | None:
    return conn.execute(FIND_BY_EMAIL, {"email": email}).fetchone()
