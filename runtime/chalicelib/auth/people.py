"""SQL for people's authentication: the login lookup, MFA state, recovery codes and single-use tokens.

The lookup by e-mail runs before the tenant is known, through the SECURITY
DEFINER function ``auth_find_user`` (migration 0038, owned by ``saas_auth``).
Everything else runs in the person's ``tenant_transaction``: row-level
security, not a WHERE clause, scopes the rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.db import Connection

FIND_USER = """
SELECT user_id, customer_id, role, password_hash, mfa_enabled, session_epoch, customer_status
  FROM auth_find_user(%(email)s)
"""
GET_USER = """
SELECT id, customer_id, email, name, role, mfa_enabled, mfa_secret, mfa_pending_secret, mfa_last_step, session_epoch
  FROM users WHERE id = %(id)s
"""
INSERT_TOKEN = """
INSERT INTO user_tokens (customer_id, user_id, purpose, token_hash, session_epoch, expires_at)
VALUES (%(customer_id)s, %(user_id)s, %(purpose)s, %(token_hash)s, %(epoch)s, %(expires_at)s)
"""
# A live token of ``purpose``, locked: redeeming it is single use.
CLAIM_TOKEN = """
SELECT t.id, t.user_id, t.session_epoch, t.failed_attempts, u.email
  FROM user_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.token_hash = %(token_hash)s AND t.purpose = %(purpose)s
   AND t.used_at IS NULL AND t.expires_at > now() AND t.failed_attempts < %(max_attempts)s
   FOR UPDATE OF t
"""
USE_TOKEN = "UPDATE user_tokens SET used_at = now() WHERE id = %(id)s"
FAIL_TOKEN = "UPDATE user_tokens SET failed_attempts = failed_attempts + 1 WHERE id = %(id)s"
# Every other outstanding token of the user and purpose dies with a successful redemption.
RETIRE_TOKENS = """
UPDATE user_tokens SET used_at = now()
 WHERE user_id = %(user_id)s AND purpose = %(purpose)s AND used_at IS NULL
"""
# A TOTP code is accepted once: only a later step than the last accepted one moves it.
ACCEPT_STEP = """
UPDATE users SET mfa_last_step = %(step)s
 WHERE id = %(id)s AND mfa_enabled AND mfa_last_step < %(step)s AND session_epoch = %(epoch)s
RETURNING id
"""
USE_RECOVERY_CODE = """
UPDATE user_recovery_codes SET used_at = now()
 WHERE user_id = %(user_id)s AND code_hash = %(code_hash)s AND used_at IS NULL
RETURNING (SELECT count(*) - 1 FROM user_recovery_codes
            WHERE user_id = %(user_id)s AND used_at IS NULL) AS remaining
"""
SET_PASSWORD = """
UPDATE users SET password_hash = %(password_hash)s, session_epoch = session_epoch + 1 WHERE id = %(id)s
"""
TOUCH_LOGIN = "UPDATE users SET last_login_at = now() WHERE id = %(id)s"


@dataclass(frozen=True, slots=True)
class LoginRecord:
    user_id: uuid.UUID
    customer_id: uuid.UUID
    role: str
    password_hash: str
    mfa_enabled: bool
    session_epoch: int
    customer_active: bool


def find_user(conn: Connection, email: str) -> LoginRecord | None:
    row = conn.execute(FIND_USER, {"email": email}).fetchone()
    if row is None:
        return None
    return LoginRecord(
        user_id=row["user_id"],
        customer_id=row["customer_id"],
        role=row["role"],
        password_hash=row["password_hash"],
        mfa_enabled=row["mfa_enabled"],
        session_epoch=row["session_epoch"],
        customer_active=row["customer_status"] == "active",
    )


def get_user(conn: Connection, user_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
    return conn.execute(GET_USER + (" FOR UPDATE" if for_update else ""), {"id": user_id}).fetchone()


def insert_token(
    conn: Connection,
    *,
    customer_id: uuid.UUID,
    user_id: uuid.UUID,
    purpose: str,
    token_hash: str,
    epoch: int,
    expires_at: datetime,
) -> None:
    conn.execute(
        INSERT_TOKEN,
        {
            "customer_id": customer_id,
            "user_id": user_id,
            "purpose": purpose,
            "token_hash": token_hash,
            "epoch": epoch,
            "expires_at": expires_at,
        },
    )


def claim_token(
    conn: Connection, token_hash: str, purpose: str, *, max_attempts: int = 1_000_000
) -> dict[str, Any] | None:
    params = {"token_hash": token_hash, "purpose": purpose, "max_attempts": max_attempts}
    return conn.execute(CLAIM_TOKEN, params).fetchone()


def use_token(conn: Connection, token_id: uuid.UUID) -> None:
    conn.execute(USE_TOKEN, {"id": token_id})


def fail_token(conn: Connection, token_id: uuid.UUID) -> None:
    conn.execute(FAIL_TOKEN, {"id": token_id})


def retire_tokens(conn: Connection, user_id: uuid.UUID, purpose: str) -> None:
    conn.execute(RETIRE_TOKENS, {"user_id": user_id, "purpose": purpose})


def accept_step(conn: Connection, user_id: uuid.UUID, step: int, epoch: int) -> bool:
    """Record ``step`` as the last accepted TOTP step; ``False`` when it (or a later one) was already used."""
    return conn.execute(ACCEPT_STEP, {"id": user_id, "step": step, "epoch": epoch}).fetchone() is not None


def use_recovery_code(conn: Connection, user_id: uuid.UUID, code_hash: str) -> int | None:
    """Spend one unused recovery code; the number left, or ``None`` when there was no such unused code."""
    row = conn.execute(USE_RECOVERY_CODE, {"user_id": user_id, "code_hash": code_hash}).fetchone()
    return None if row is None else int(row["remaining"])


def set_password(conn: Connection, user_id: uuid.UUID, password_hash: str) -> None:
    """A new password hash; the epoch moves, so every session of the user ends."""
    conn.execute(SET_PASSWORD, {"id": user_id, "password_hash": password_hash})


def touch_login(conn: Connection, user_id: uuid.UUID) -> None:
    conn.execute(TOUCH_LOGIN, {"id": user_id})
