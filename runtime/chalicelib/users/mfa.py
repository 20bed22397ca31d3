"""A person's second factor: enrol (pending), confirm (recovery codes shown once), disable.

The TOTP secret is sealed with KMS (``auth.secret_box``) to the person
(``login.mfa_context``) before it is stored: it is never in the database in
clear. Enrolment stores a *pending* secret; confirming it with a valid code
makes it the secret, records that code's step as used (it cannot log in
again), and replaces the recovery codes with ten new ones, stored hashed and
returned once. Disabling needs a current code (or a recovery code), and moves
the session epoch: every session of the person ends, this one included.

Only people have MFA: an API key's session gets ``404`` here (it has no user).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth import clock, people, totp
from chalicelib.auth.login import mfa_context
from chalicelib.auth.secret_box import SecretBoxError, seal, unseal
from chalicelib.core import context, db, errors
from chalicelib.core.db import Connection
from chalicelib.users.mfa_models import MfaEnrolment, RecoveryCodes

ISSUER = "SaaS Platform"

STORE_PENDING = "UPDATE users SET mfa_pending_secret = %(sealed)s WHERE id = %(id)s"
CONFIRM = """
UPDATE users SET mfa_secret = mfa_pending_secret, mfa_pending_secret = NULL, mfa_enabled = true,
                 mfa_last_step = %(step)s
 WHERE id = %(id)s AND mfa_pending_secret = %(pending)s AND NOT mfa_enabled
RETURNING id
"""
DISABLE = """
UPDATE users SET mfa_enabled = false, mfa_secret = NULL, mfa_pending_secret = NULL,
                 session_epoch = session_epoch + 1
 WHERE id = %(id)s
"""
DELETE_CODES = "DELETE FROM user_recovery_codes WHERE user_id = %(id)s"
INSERT_CODE = "INSERT INTO user_recovery_codes (customer_id, user_id, code_hash) VALUES (%s, %s, %s)"


def _me() -> tuple[uuid.UUID, uuid.UUID]:
    principal = context.current_principal()
    if principal.customer_id is None or principal.user_id is None:
        raise errors.NotFound("This credential is not a person: MFA belongs to users")
    return principal.customer_id, principal.user_id


def _user(conn: Connection, user_id: uuid.UUID) -> dict[str, Any]:
    user = people.get_user(conn, user_id, for_update=True)
    if user is None:
        raise errors.NotFound("User not found")
    return user


def enrol() -> MfaEnrolment:
    customer_id, user_id = _me()
    with db.tenant_transaction(customer_id) as conn:
        user = _user(conn, user_id)
    if user["mfa_enabled"]:
        raise errors.Conflict("MFA is already enabled; disable it first to enrol a new authenticator")
    secret = totp.new_secret()
    sealed = seal(secret.encode(), mfa_context(customer_id, user_id))
    with db.tenant_transaction(customer_id) as conn:
        conn.execute(STORE_PENDING, {"sealed": sealed, "id": user_id})
        _audit(conn, customer_id, user_id, "user.mfa_enrolment_started")
    return MfaEnrolment(secret=secret, otpauth_uri=totp.provisioning_uri(secret, email=user["email"], issuer=ISSUER))


def confirm(code: str) -> RecoveryCodes:
    customer_id, user_id = _me()
    with db.tenant_transaction(customer_id) as conn:
        user = _user(conn, user_id)
    if user["mfa_enabled"]:
        raise errors.Conflict("MFA is already enabled")
    if user["mfa_pending_secret"] is None:
        raise errors.Conflict("No enrolment is pending: start with POST /users/me/mfa")
    secret = _open(user["mfa_pending_secret"], customer_id, user_id)
    step = totp.matching_step(secret, code, clock.now())
    if step is None:
        raise errors.BadRequest("Invalid code")
    codes = totp.new_recovery_codes()
    with db.tenant_transaction(customer_id) as conn:
        confirmed = conn.execute(
            CONFIRM, {"step": step, "id": user_id, "pending": user["mfa_pending_secret"]}
        ).fetchone()
        if confirmed is None:
            raise errors.Conflict("The enrolment changed meanwhile: start again with POST /users/me/mfa")
        conn.execute(DELETE_CODES, {"id": user_id})
        with conn.cursor() as cursor:
            cursor.executemany(INSERT_CODE, [(customer_id, user_id, totp.hash_recovery_code(c)) for c in codes])
        _audit(conn, customer_id, user_id, "user.mfa_enabled", {"recovery_codes": len(codes)})
    return RecoveryCodes(recovery_codes=codes)


def disable(code: str) -> None:
    customer_id, user_id = _me()
    with db.tenant_transaction(customer_id) as conn:
        user = _user(conn, user_id)
    if not user["mfa_enabled"] or user["mfa_secret"] is None:
        raise errors.Conflict("MFA is not enabled")
    secret = _open(user["mfa_secret"], customer_id, user_id)
    step = totp.matching_step(secret, code, clock.now())
    with db.tenant_transaction(customer_id) as conn:
        _user(conn, user_id)  # locks the row: the step check and the disable are one decision
        if step is not None:
            accepted = people.accept_step(conn, user_id, step, user["session_epoch"])
        else:
            accepted = totp.looks_like_recovery_code(code) and (
                people.use_recovery_code(conn, user_id, totp.hash_recovery_code(code)) is not None
            )
        if not accepted:
            raise errors.BadRequest("Invalid code")
        conn.execute(DISABLE, {"id": user_id})
        conn.execute(DELETE_CODES, {"id": user_id})
        _audit(conn, customer_id, user_id, "user.mfa_disabled", {"sessions_ended": True})


def _open(sealed: bytes, customer_id: uuid.UUID, user_id: uuid.UUID) -> str:
    try:
        return unseal(sealed, mfa_context(customer_id, user_id)).decode()
    except SecretBoxError:
        raise errors.Conflict("The stored MFA secret cannot be opened; ask an administrator") from None


def _audit(
    conn: Connection, customer_id: uuid.UUID, user_id: uuid.UUID, action: str, detail: dict[str, Any] | None = None
) -> None:
    recorder.record(conn, customer_id=customer_id, action=action, target_type="user", target_id=user_id, detail=detail)
