"""SQL for authentication: key lookup by public id, session liveness, last-use stamps, operators.

The lookup and the session functions run before (or regardless of) the
tenant; they go through the SECURITY DEFINER functions of migrations 0010 and
0011 (owned by ``saas_auth``), never through the operator role and never
through "no tenant set".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.core.context import Role, TenantRole
from chalicelib.core.db import Connection, single_row

FIND_CUSTOMER_KEY = """
SELECT key_id, customer_id, secret_hash, expires_at, revoked_at, customer_status
  FROM auth_find_customer_key(%(public_id)s)
"""
FIND_OPERATOR_KEY = """
SELECT key_id, operator_id, secret_hash, expires_at, revoked_at, operator_disabled
  FROM auth_find_operator_key(%(public_id)s)
"""
# The guard's one round trip per request (migrations 0011 and 0038: keys and people alike).
REQUEST_STATE = """
SELECT session_live, key_live, holder_active, tenant_role, require_mfa
  FROM auth_request_state2(%(role)s, %(subject)s, %(key_id)s, %(user_id)s, %(jti)s, %(now)s)
"""
OPEN_SESSION = """
SELECT key_live, holder_active, tenant_role
  FROM auth_open_session2(%(jti)s, %(role)s, %(subject)s, %(key_id)s, %(user_id)s, %(user_epoch)s,
                          %(expires_at)s, %(now)s)
"""
REVOKE_SESSIONS = "SELECT auth_revoke_sessions(%(jtis)s, %(expires_at)s)"
PURGE_SESSIONS = "SELECT auth_purge_sessions(%(limit)s) AS purged"
TOUCH_CUSTOMER_KEY = "UPDATE api_keys SET last_used_at = now() WHERE id = %(key_id)s"
# Refresh tokens issued before this moment (the customer's last suspension) are dead (migration 0032).
# Runs in the customer's tenant transaction: RLS leaves its own row only.
SESSIONS_VALID_FROM = "SELECT sessions_valid_from FROM customers WHERE id = %(customer_id)s"
TOUCH_OPERATOR_KEY = "UPDATE operator_api_keys SET last_used_at = now() WHERE id = %(key_id)s"
TOUCH_KEY = {Role.CUSTOMER: TOUCH_CUSTOMER_KEY, Role.OPERATOR: TOUCH_OPERATOR_KEY}
UPSERT_OPERATOR = """
INSERT INTO operators (name, email) VALUES (%(name)s, %(email)s)
ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name
RETURNING id
"""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """What authentication needs about one key; ``holder_active`` is customer status / operator enabled."""

    key_id: uuid.UUID
    role: Role
    subject: uuid.UUID
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    holder_active: bool

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.role.customer_id(self.subject)


def find_customer_key(conn: Connection, public_id: str) -> StoredKey | None:
    row = conn.execute(FIND_CUSTOMER_KEY, {"public_id": public_id}).fetchone()
    if row is None:
        return None
    return StoredKey(
        key_id=row["key_id"],
        role=Role.CUSTOMER,
        subject=row["customer_id"],
        secret_hash=row["secret_hash"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        holder_active=row["customer_status"] == "active",
    )


def find_operator_key(conn: Connection, public_id: str) -> StoredKey | None:
    row = conn.execute(FIND_OPERATOR_KEY, {"public_id": public_id}).fetchone()
    if row is None:
        return None
    return StoredKey(
        key_id=row["key_id"],
        role=Role.OPERATOR,
        subject=row["operator_id"],
        secret_hash=row["secret_hash"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        holder_active=not row["operator_disabled"],
    )


@dataclass(frozen=True, slots=True)
class LiveState:
    """Whether a session (when asked), its credential and the credential's holder are live right now.

    For a person's session ``key_live`` means: the user still exists and has
    not changed role, password or MFA since the login. ``tenant_role`` is what
    the credential may do (``None`` for an operator).
    """

    key_live: bool
    holder_active: bool
    session_live: bool = True
    tenant_role: TenantRole | None = None
    require_mfa: bool = False


def _tenant_role(value: str | None) -> TenantRole | None:
    return None if value is None else TenantRole(value)


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def request_state(
    conn: Connection,
    *,
    role: Role,
    subject: uuid.UUID,
    key_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    jti: str,
    now: float,
) -> LiveState:
    params = {"role": role, "subject": subject, "key_id": key_id, "user_id": user_id, "jti": jti, "now": _at(now)}
    row = single_row(conn.execute(REQUEST_STATE, params))  # the function's OUT parameters: one row
    return LiveState(
        key_live=row["key_live"],
        holder_active=row["holder_active"],
        session_live=row["session_live"],
        tenant_role=_tenant_role(row["tenant_role"]),
        require_mfa=row["require_mfa"],
    )


def open_session(
    conn: Connection,
    *,
    jti: str,
    role: Role,
    subject: uuid.UUID,
    key_id: uuid.UUID | None,
    user_id: uuid.UUID | None = None,
    user_epoch: int | None = None,
    expires_at: int,
    now: float,
) -> LiveState:
    """Record the session only if its credential is live and its holder active; say which, and its role."""
    row = single_row(  # the function's OUT parameters: one row
        conn.execute(
            OPEN_SESSION,
            {
                "jti": jti,
                "role": role,
                "subject": subject,
                "key_id": key_id,
                "user_id": user_id,
                "user_epoch": user_epoch,
                "expires_at": _at(expires_at),
                "now": _at(now),
            },
        )
    )
    return LiveState(
        key_live=row["key_live"], holder_active=row["holder_active"], tenant_role=_tenant_role(row["tenant_role"])
    )


def revoke_sessions(conn: Connection, jtis: Iterable[str], *, expires_at: int) -> None:
    """Revoke sessions by jti (a jti not recorded yet is remembered as revoked until ``expires_at``)."""
    jtis = sorted(set(jtis))
    if jtis:
        conn.execute(REVOKE_SESSIONS, {"jtis": jtis, "expires_at": _at(expires_at)})


def purge_sessions(conn: Connection, limit: int) -> int:
    purged: int = single_row(conn.execute(PURGE_SESSIONS, {"limit": limit}))["purged"]
    return purged


def sessions_valid_from(conn: Connection, customer_id: uuid.UUID) -> datetime | None:
    row = conn.execute(SESSIONS_VALID_FROM, {"customer_id": customer_id}).fetchone()
    return None if row is None else row["sessions_valid_from"]


def touch_key(conn: Connection, role: Role, key_id: uuid.UUID) -> None:
    conn.execute(TOUCH_KEY[role], {"key_id": key_id})


def upsert_operator(conn: Connection, *, name: str, email: str) -> uuid.UUID:
    operator_id: uuid.UUID = single_row(conn.execute(UPSERT_OPERATOR, {"name": name, "email": email}))["id"]
    return operator_id
