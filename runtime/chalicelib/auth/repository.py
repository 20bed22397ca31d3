"""SQL for authentication: key lookup by public id, sessions and their refresh tokens, last-use stamps, operators.

The lookup and the session functions run before (or regardless of) the
tenant; they go through the SECURITY DEFINER functions of migrations 0010,
0011, 0038 and 0044 (owned by ``saas_auth``), never through the operator role
and never through "no tenant set".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg.rows import tuple_row

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
# The guard's one round trip per request: one function per kind of session (migration 0045),
# each (jti, customer or operator id, key or user id, the caller's now).
_STATE_COLUMNS = "SELECT session_live, key_live, holder_active, tenant_role, require_mfa FROM "
KEY_SESSION_STATE = _STATE_COLUMNS + "auth_key_session_state(%s, %s, %s, %s)"
USER_SESSION_STATE = _STATE_COLUMNS + "auth_user_session_state(%s, %s, %s, %s)"
OPERATOR_SESSION_STATE = _STATE_COLUMNS + "auth_operator_session_state(%s, %s, %s, %s)"
# Sessions and their refresh tokens (migration 0044): opened, redeemed once, ended.
OPEN_SESSION = """
SELECT key_live, holder_active, tenant_role
  FROM auth_open_session3(%(jti)s, %(role)s, %(subject)s, %(key_id)s, %(user_id)s, %(user_epoch)s,
                          %(expires_at)s, %(now)s, %(amr)s, %(refresh_hash)s, %(refresh_expires_at)s)
"""
REFRESH_HOLDER = "SELECT role, subject, key_id, user_id, amr FROM auth_refresh_holder(%(refresh_hash)s)"
REFRESH_SESSION = """
SELECT outcome, previous_jti, session_family, key_live, holder_active, tenant_role
  FROM auth_refresh_session(%(refresh_hash)s, %(jti)s, %(expires_at)s, %(new_refresh_hash)s,
                            %(refresh_expires_at)s, %(now)s)
"""
END_SESSION = "SELECT auth_end_session(%(jti)s, %(until)s) AS revoked"
PURGE_SESSIONS = "SELECT auth_purge_sessions(%(limit)s) AS purged"
TOUCH_CUSTOMER_KEY = "UPDATE api_keys SET last_used_at = now() WHERE id = %(key_id)s"
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
    statement = request_state_statement(role=role, key_id=key_id, user_id=user_id)
    credential = user_id if key_id is None else key_id
    if statement is None or credential is None:
        return LiveState(key_live=False, holder_active=False, session_live=False)  # no such session can exist
    # Plain tuples: no dict per request on the guard's path (the OUT parameters, in that order).
    row = conn.cursor(row_factory=tuple_row).execute(statement, (jti, subject, credential, _at(now))).fetchone()
    if row is None:
        raise AssertionError("a function with OUT parameters returned no row")
    session_live, key_live, holder_active, tenant_role, require_mfa = row
    return LiveState(
        key_live=key_live,
        holder_active=holder_active,
        session_live=session_live,
        tenant_role=_tenant_role(tenant_role),
        require_mfa=require_mfa,
    )


def request_state_statement(*, role: Role, key_id: uuid.UUID | None, user_id: uuid.UUID | None) -> str | None:
    """The statement that answers for this kind of session; ``None`` for a shape no session has.

    Its parameters: the jti, the subject (customer or operator), the key or the user, the caller's now.
    A session has exactly one credential, and only a customer's can be a person's
    (``tokens.verify`` refuses any other token): the other shapes are dead without a query.
    """
    if key_id is not None and user_id is None:
        return KEY_SESSION_STATE if role is Role.CUSTOMER else OPERATOR_SESSION_STATE
    if key_id is None and user_id is not None and role is Role.CUSTOMER:
        return USER_SESSION_STATE
    return None


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session about to be opened: its access token's jti and its single-use refresh token (hashed).

    An API key's session names the key (``user_id`` is ``None``); a person's
    names the user and the session epoch their login read (migration 0038).
    ``amr``: how the session was authenticated, e.g. ``("pwd", "otp")``.
    """

    jti: str
    key_id: uuid.UUID | None
    subject: uuid.UUID
    role: Role
    expires_at: int
    refresh_hash: str
    refresh_expires_at: int
    user_id: uuid.UUID | None = None
    user_epoch: int | None = None
    amr: tuple[str, ...] = ("key",)

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.role.customer_id(self.subject)


def open_session(conn: Connection, session: NewSession, *, now: float) -> LiveState:
    """Record the session only if its credential is live and its holder active; say which, and its role."""
    row = single_row(  # the function's OUT parameters: one row
        conn.execute(
            OPEN_SESSION,
            {
                "jti": session.jti,
                "role": session.role,
                "subject": session.subject,
                "key_id": session.key_id,
                "user_id": session.user_id,
                "user_epoch": session.user_epoch,
                "expires_at": _at(session.expires_at),
                "now": _at(now),
                "amr": " ".join(session.amr),
                "refresh_hash": session.refresh_hash,
                "refresh_expires_at": _at(session.refresh_expires_at),
            },
        )
    )
    return LiveState(
        key_live=row["key_live"], holder_active=row["holder_active"], tenant_role=_tenant_role(row["tenant_role"])
    )


@dataclass(frozen=True, slots=True)
class RefreshHolder:
    """Whose refresh token it is (the session it belongs to), read before redeeming it."""

    role: Role
    subject: uuid.UUID
    key_id: uuid.UUID | None
    user_id: uuid.UUID | None
    amr: tuple[str, ...]


def refresh_holder(conn: Connection, refresh_hash: str) -> RefreshHolder | None:
    row = conn.execute(REFRESH_HOLDER, {"refresh_hash": refresh_hash}).fetchone()
    if row is None:
        return None
    return RefreshHolder(
        role=Role(row["role"]),
        subject=row["subject"],
        key_id=row["key_id"],
        user_id=row["user_id"],
        amr=tuple((row["amr"] or "key").split()),
    )


@dataclass(frozen=True, slots=True)
class Redemption:
    """What ``auth_refresh_session`` did: ``outcome`` is ok, unknown, reused, refused or revoked."""

    outcome: str
    previous_jti: str | None
    family: str | None
    state: LiveState


def refresh_session(
    conn: Connection,
    refresh_hash: str,
    *,
    jti: str,
    expires_at: int,
    new_refresh_hash: str,
    refresh_expires_at: int,
    now: float,
) -> Redemption:
    """Redeem a refresh token once, opening session ``jti`` in its family (see migration 0044)."""
    params = {
        "refresh_hash": refresh_hash,
        "jti": jti,
        "expires_at": _at(expires_at),
        "new_refresh_hash": new_refresh_hash,
        "refresh_expires_at": _at(refresh_expires_at),
        "now": _at(now),
    }
    row = single_row(conn.execute(REFRESH_SESSION, params))  # the function's OUT parameters: one row
    state = LiveState(
        key_live=bool(row["key_live"]),
        holder_active=bool(row["holder_active"]),
        tenant_role=_tenant_role(row["tenant_role"]),
    )
    return Redemption(row["outcome"], row["previous_jti"], row["session_family"], state)


def end_session(conn: Connection, jti: str, *, until: int) -> int:
    """Revoke session ``jti`` and its family (a jti not recorded is remembered as revoked); how many in the family."""
    revoked: int = single_row(conn.execute(END_SESSION, {"jti": jti, "until": _at(until)}))["revoked"]
    return revoked


def purge_sessions(conn: Connection, limit: int) -> int:
    purged: int = single_row(conn.execute(PURGE_SESSIONS, {"limit": limit}))["purged"]
    return purged


def touch_key(conn: Connection, role: Role, key_id: uuid.UUID) -> None:
    conn.execute(TOUCH_KEY[role], {"key_id": key_id})


def upsert_operator(conn: Connection, *, name: str, email: str) -> uuid.UUID:
    operator_id: uuid.UUID = single_row(conn.execute(UPSERT_OPERATOR, {"name": name, "email": email}))["id"]
    return operator_id
