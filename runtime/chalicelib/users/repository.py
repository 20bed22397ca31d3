"""SQL for ``users`` and ``user_invitations``.

Always called inside ``tenant_transaction`` (or, for the first owner's
invitation, the operator's onboarding transaction): row-level security, not a
WHERE clause, scopes the rows. The statements that name ``customer_id`` do so
for the index, never for isolation.

Nothing here returns a password hash or an MFA secret: login and MFA read
those through ``auth.people``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.core import errors
from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

# A user's row as the area reads it (session_epoch for callers that open sessions; never shown).
USER_COLUMNS = "id, customer_id, email, name, role, mfa_enabled, created_at, last_login_at, session_epoch"
INVITATION_COLUMNS = "id, customer_id, email, role, invited_by, created_at, expires_at, accepted_at, user_id"

INSERT_USER = f"""
INSERT INTO users (customer_id, email, name, role, password_hash)
VALUES (%(customer_id)s, %(email)s, %(name)s, %(role)s, %(password_hash)s)
RETURNING {USER_COLUMNS}
"""
GET_USER = f"SELECT {USER_COLUMNS} FROM users WHERE id = %(id)s"
# Newest first: a keyset page (core.pagination) on users_customer_idx.
LIST_PAGE = f"""
SELECT {USER_COLUMNS}
  FROM users
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
IS_MEMBER = "SELECT EXISTS (SELECT 1 FROM users WHERE email = %(email)s) AS member"
# The tenant's owners, locked in one order: every change that could leave the tenant without an
# owner takes these locks first, so two concurrent demotions (or removals) cannot both pass the
# "another owner remains" check.
LOCK_OWNERS = "SELECT id FROM users WHERE customer_id = %(customer_id)s AND role = 'owner' ORDER BY id FOR UPDATE"
# A new statement after the locks: it sees every owner committed while this one waited.
COUNT_OWNERS = "SELECT count(*) AS n FROM users WHERE customer_id = %(customer_id)s AND role = 'owner'"
# A new role ends every session of the user at once (the guard compares the epoch on every request).
SET_ROLE = f"""
UPDATE users SET role = %(role)s, session_epoch = session_epoch + 1
 WHERE id = %(id)s
RETURNING {USER_COLUMNS}
"""
# Recovery codes and tokens cascade; the sessions die because their user is gone.
DELETE_USER = "DELETE FROM users WHERE id = %(id)s"

# Serializes invitations of one address at one tenant: "expire the pending one, insert the new
# one" cannot interleave, so at most one invitation per address is ever pending.
LOCK_ADDRESS = (
    "SELECT pg_advisory_xact_lock(hashtextextended('user_invitations:' || %(customer_id)s::text"
    " || ':' || %(email)s, 0))"
)
EXPIRE_PENDING = """
UPDATE user_invitations SET expires_at = now()
 WHERE customer_id = %(customer_id)s AND email = %(email)s AND accepted_at IS NULL AND expires_at > now()
"""
INSERT_INVITATION = f"""
INSERT INTO user_invitations (customer_id, email, role, token_hash, invited_by, expires_at)
VALUES (%(customer_id)s, %(email)s, %(role)s, %(token_hash)s, %(invited_by)s, now() + %(valid_for)s)
RETURNING {INVITATION_COLUMNS}
"""
PENDING_BY_HASH = f"""
SELECT {INVITATION_COLUMNS} FROM user_invitations
 WHERE token_hash = %(token_hash)s AND accepted_at IS NULL AND expires_at > now()
"""
ACCEPT_INVITATION = "UPDATE user_invitations SET accepted_at = now(), user_id = %(user_id)s WHERE id = %(id)s"


def insert_user(
    conn: Connection, *, customer_id: uuid.UUID, email: str, name: str, role: str, password_hash: str
) -> dict[str, Any]:
    """A new user (``email`` already lowercase); 409 when the address has an account, at any tenant.

    Runs in a savepoint, so a caller may catch the 409 and carry on in the same transaction.
    """
    params = {"customer_id": customer_id, "email": email, "name": name, "role": role, "password_hash": password_hash}
    try:
        with conn.transaction():
            return single_row(conn.execute(INSERT_USER, params))  # INSERT ... RETURNING: one row, or it raised
    except pg_errors.UniqueViolation as exc:
        # users_email_key: e-mail addresses are unique across the platform (login names no tenant).
        raise errors.Conflict("An account with this e-mail address already exists") from exc
    except pg_errors.CheckViolation as exc:
        raise errors.Unprocessable("The e-mail address or name cannot be stored") from exc


def get_user(conn: Connection, user_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    """One user of the tenant (public columns and ``session_epoch``), or ``None``."""
    return conn.execute(GET_USER + (" FOR UPDATE" if for_update else ""), {"id": user_id}).fetchone()


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` of the tenant's users older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def is_member(conn: Connection, email: str) -> bool:
    """Whether ``email`` is a user of this tenant (RLS hides the others' users)."""
    member: bool = single_row(conn.execute(IS_MEMBER, {"email": email}))["member"]  # EXISTS: one row
    return member


def lock_owners(conn: Connection, customer_id: uuid.UUID) -> None:
    conn.execute(LOCK_OWNERS, {"customer_id": customer_id}).fetchall()


def count_owners(conn: Connection, customer_id: uuid.UUID) -> int:
    owners: int = single_row(conn.execute(COUNT_OWNERS, {"customer_id": customer_id}))["n"]  # count(*): one row
    return owners


def set_role(conn: Connection, user_id: uuid.UUID, role: str) -> dict[str, Any]:
    """The user after the change; the caller holds the row's lock (``get_user(..., for_update=True)``)."""
    return single_row(conn.execute(SET_ROLE, {"id": user_id, "role": role}))  # the locked row exists


def delete_user(conn: Connection, user_id: uuid.UUID) -> None:
    conn.execute(DELETE_USER, {"id": user_id})


def lock_address(conn: Connection, customer_id: uuid.UUID, email: str) -> None:
    conn.execute(LOCK_ADDRESS, {"customer_id": customer_id, "email": email})


def expire_pending(conn: Connection, customer_id: uuid.UUID, email: str) -> None:
    """End the address's pending invitation, if any (a new one replaces it)."""
    conn.execute(EXPIRE_PENDING, {"customer_id": customer_id, "email": email})


def insert_invitation(
    conn: Connection,
    *,
    customer_id: uuid.UUID,
    email: str,
    role: str,
    token_hash: str,
    invited_by: str,
    valid_for: timedelta,
) -> dict[str, Any]:
    """A new invitation expiring ``valid_for`` after the database's now (the clock acceptance compares with)."""
    params = {
        "customer_id": customer_id,
        "email": email,
        "role": role,
        "token_hash": token_hash,
        "invited_by": invited_by,
        "valid_for": valid_for,
    }
    try:
        with conn.transaction():
            return single_row(conn.execute(INSERT_INVITATION, params))  # INSERT ... RETURNING: one row, or it raised
    except pg_errors.UniqueViolation as exc:  # two random 256-bit tokens alike: never, in practice
        raise errors.Conflict("Invitation token collision; try again") from exc
    except pg_errors.CheckViolation as exc:
        raise errors.Unprocessable("The e-mail address cannot be stored") from exc


def pending_invitation(conn: Connection, token_hash: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The unaccepted, unexpired invitation whose token hashes to ``token_hash``, or ``None``."""
    sql = PENDING_BY_HASH + (" FOR UPDATE" if for_update else "")
    return conn.execute(sql, {"token_hash": token_hash}).fetchone()


def accept_invitation(conn: Connection, invitation_id: uuid.UUID, user_id: uuid.UUID) -> None:
    conn.execute(ACCEPT_INVITATION, {"id": invitation_id, "user_id": user_id})
