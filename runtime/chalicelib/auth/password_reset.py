"""Password reset by e-mail: a single-use token valid one hour; every session of the person ends.

``request_reset`` answers the same (``202``) whether or not the address has an
account: the work for a known address (a token row and a queued e-mail, then
an attempt to send it) is what an unknown one skips, and at most
``MAX_RESETS_PER_WINDOW`` e-mails per account and window go out, so the form
cannot be used to flood someone's inbox. The token is stored hashed
(``auth.user_tokens``); redeeming it sets the new password (bcrypt, the
project's cost), moves the session epoch (every session and refresh token of
the person is refused from the next request on) and retires the person's
other outstanding reset tokens.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from chalicelib.audit import recorder
from chalicelib.auth import passwords, people, sessions, throttle, user_tokens
from chalicelib.core import db, errors
from chalicelib.core.context import Role
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings
from chalicelib.notifications import service as notifications
from chalicelib.users import emails

MAX_RESETS_PER_WINDOW = 3
_INVALID = "Invalid or expired reset token"


def request_reset(email: str) -> None:
    email = email.strip().lower()
    now = datetime.now(UTC)
    with db.plain_transaction() as conn:
        found = people.find_user(conn, email)
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    if found is None:
        logger.info("password reset for an unknown address", extra={"account": account})
        return
    if throttle.record_failure(f"reset#{found.user_id}", int(now.timestamp())) > MAX_RESETS_PER_WINDOW:
        logger.warning("password reset e-mails throttled", extra={"account": account})
        return
    token, token_hash = user_tokens.new_token(user_tokens.PASSWORD_RESET, found.customer_id)
    expires_at = now + emails.PASSWORD_RESET_VALID_FOR
    actor = sessions.actor(Role.CUSTOMER, found.customer_id, None, found.user_id)
    with db.tenant_transaction(found.customer_id, actor=actor) as conn:
        people.insert_token(
            conn,
            customer_id=found.customer_id,
            user_id=found.user_id,
            purpose="password_reset",
            token_hash=token_hash,
            epoch=found.session_epoch,
            expires_at=expires_at,
        )
        message = emails.password_reset_message(
            customer_id=found.customer_id, user_id=found.user_id, email=email, token=token, expires_at=expires_at
        )
        notification_id = notifications.queue_message(conn, message)
        recorder.record(
            conn,
            customer_id=found.customer_id,
            action="user.password_reset_requested",
            target_type="user",
            target_id=found.user_id,
        )
    # Now rather than at the next scheduled delivery; a failure here leaves it queued for that run.
    notifications.deliver_pending(customer_id=found.customer_id, notification_ids=[notification_id])


def confirm_reset(token: str, password: str) -> None:
    parsed = user_tokens.parse(user_tokens.PASSWORD_RESET, token)
    if parsed is None:
        raise errors.BadRequest(_INVALID)
    password_hash = passwords.hash_password(password, get_settings().bcrypt_cost)  # slow: before any lock
    with db.tenant_transaction(parsed.customer_id, actor="system") as conn:
        claimed = people.claim_token(conn, parsed.token_hash, "password_reset")
        if claimed is None:
            raise errors.BadRequest(_INVALID)
        user_id = claimed["user_id"]
        people.use_token(conn, claimed["id"])
        people.retire_tokens(conn, user_id, "password_reset")
        people.retire_tokens(conn, user_id, "mfa_login")
        people.set_password(conn, user_id, password_hash)
        recorder.record(
            conn,
            customer_id=parsed.customer_id,
            action="user.password_reset",
            target_type="user",
            target_id=user_id,
            detail={"sessions_ended": True},
            actor=sessions.actor(Role.CUSTOMER, parsed.customer_id, None, user_id),
        )
