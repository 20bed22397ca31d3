"""People log in: an e-mail and a password, then (when enrolled) a second factor; a token pair out.

``POST /auth/login`` checks the password with bcrypt at the production cost.
An unknown address costs the same bcrypt work as a wrong password and gets
the same ``401``, so neither the answer nor its time says whether an address
has an account. A person without MFA gets a token pair (``amr: ["pwd"]``); a
person with MFA gets a single-use ``mfa_token`` (5 minutes, at most
``MFA_ATTEMPTS`` wrong codes), which ``POST /auth/mfa`` exchanges with a TOTP
code or a recovery code for a pair with ``amr: ["pwd", "otp"]``.

Sessions are the same as an API key's (``auth.sessions``): a row in
PostgreSQL read on every request, a single-use refresh token, logout. They
are opened with the session epoch the password check read: if the person's
role, password or MFA changes, or they are removed, in between or later, the
session is refused (migration 0038).

Throttling (``auth.throttle``'s windows) must not let a third party lock a
person out:

* failures per *account and source address*: ``MAX_FAILURES`` in a window,
  then that address gets ``429`` for that account until the window ends; the
  person, from anywhere else, is unaffected;
* failures per *source address* across accounts: ``SOURCE_MAX_FAILURES``,
  then ``429`` for every login from it (one address spraying many accounts).

Both are checked before any bcrypt work. Audit stays bounded: the first
failure per account and window is ``auth.login_failed`` on the tenant's
chain, the lockout ``auth.locked_out`` once per account and window; unknown
addresses are logged only.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from chalicelib.auth import clock, passwords, people, sessions, throttle, totp, user_tokens
from chalicelib.auth.models import MfaChallenge, TokenResponse
from chalicelib.auth.secret_box import SecretBoxError, unseal
from chalicelib.core import db, errors
from chalicelib.core.context import Role
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

MFA_TOKEN_TTL = 300
MFA_ATTEMPTS = 5
SOURCE_MAX_FAILURES = 100
_INVALID = "Invalid e-mail or password"
_INVALID_MFA = "Invalid or expired MFA token or code"


def login(email: str, password: str, *, client_address: str | None) -> TokenResponse | MfaChallenge:
    at = clock.now()
    now = int(at)
    address = (client_address or "unknown")[:64]
    email = email.strip().lower()
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    pair_scope, source_scope = f"login#{account}#{address}", f"login-source#{address}"
    for scope, limit in ((pair_scope, throttle.MAX_FAILURES), (source_scope, SOURCE_MAX_FAILURES)):
        failures, retry_after = throttle.failures(scope, now)
        if failures >= limit:
            raise errors.RateLimited("Too many failed logins; try again later", retry_after=retry_after)
    with db.plain_transaction() as conn:
        found = people.find_user(conn, email)
    if found is None:
        passwords.burn_equivalent_time(get_settings().bcrypt_cost)
        _fail(None, "unknown_email", now, scopes=(pair_scope, source_scope), account=account)
    elif not passwords.verify_password(password, found.password_hash):
        _fail(found, "wrong_password", now, scopes=(pair_scope, source_scope), account=account)
    if not found.customer_active:
        raise errors.Forbidden("Customer account is suspended")
    if found.mfa_enabled:
        return _challenge(found, at)
    return _open(found.customer_id, found.user_id, found.session_epoch, ("pwd",), at, {"method": "password"})


def _challenge(found: people.LoginRecord, at: float) -> MfaChallenge:
    token, token_hash = user_tokens.new_token(user_tokens.MFA_LOGIN, found.customer_id)
    actor = sessions.actor(Role.CUSTOMER, found.customer_id, None, found.user_id)
    with db.tenant_transaction(found.customer_id, actor=actor) as conn:
        people.insert_token(
            conn,
            customer_id=found.customer_id,
            user_id=found.user_id,
            purpose="mfa_login",
            token_hash=token_hash,
            epoch=found.session_epoch,
            expires_at=datetime.fromtimestamp(at, UTC) + timedelta(seconds=MFA_TOKEN_TTL),
        )
    return MfaChallenge(mfa_token=token, expires_in=MFA_TOKEN_TTL)


def verify_mfa(mfa_token: str, code: str) -> TokenResponse:
    """The second step: a TOTP code (accepted once) or an unused recovery code, within the token's life."""
    parsed = user_tokens.parse(user_tokens.MFA_LOGIN, mfa_token)
    if parsed is None:
        raise errors.Unauthorized(_INVALID_MFA)
    at = clock.now()
    customer_id = parsed.customer_id
    with db.tenant_transaction(customer_id, actor="system") as conn:
        challenge = people.claim_token(conn, parsed.token_hash, "mfa_login", max_attempts=MFA_ATTEMPTS)
        user = None if challenge is None else people.get_user(conn, challenge["user_id"])
    if challenge is None or user is None or user["session_epoch"] != challenge["session_epoch"]:
        raise errors.Unauthorized(_INVALID_MFA)
    step = _totp_step(customer_id, user, code, at)
    code_hash = totp.hash_recovery_code(code) if step is None and totp.looks_like_recovery_code(code) else None
    actor = sessions.actor(Role.CUSTOMER, customer_id, None, user["id"])
    accepted: dict[str, Any] | None = None
    with db.tenant_transaction(customer_id, actor=actor) as conn:
        challenge = people.claim_token(conn, parsed.token_hash, "mfa_login", max_attempts=MFA_ATTEMPTS)
        if challenge is not None:
            accepted = _accept(conn, user, step, code_hash, challenge["session_epoch"])
            if accepted is None:
                people.fail_token(conn, challenge["id"])  # committed: wrong codes are counted
            else:
                people.use_token(conn, challenge["id"])
    if challenge is None or accepted is None:
        sessions.audit(
            Role.CUSTOMER,
            customer_id,
            "auth.mfa_failed",
            key_id=None,
            user_id=user["id"],
            actor=actor,
            detail={"reason": "wrong_or_used_code" if challenge is not None else "token_spent"},
        )
        raise errors.Unauthorized(_INVALID_MFA)
    return _open(
        customer_id, user["id"], user["session_epoch"], ("pwd", "otp"), at, {"method": "password+mfa", **accepted}
    )


def _totp_step(customer_id: uuid.UUID, user: dict[str, Any], code: str, at: float) -> int | None:
    if not user["mfa_enabled"] or user["mfa_secret"] is None:
        return None
    try:
        secret = unseal(user["mfa_secret"], mfa_context(customer_id, user["id"])).decode()
    except SecretBoxError:
        logger.error("an MFA secret cannot be opened", extra={"user_id": str(user["id"])})
        return None
    return totp.matching_step(secret, code, at)


def _accept(
    conn: db.Connection, user: dict[str, Any], step: int | None, code_hash: str | None, epoch: int
) -> dict[str, Any] | None:
    """Spend the code on ``conn``: the TOTP step moves forward, or a recovery code is used. What was spent."""
    if step is not None:
        return {"factor": "totp"} if people.accept_step(conn, user["id"], step, epoch) else None
    if code_hash is not None and user["mfa_enabled"]:
        remaining = people.use_recovery_code(conn, user["id"], code_hash)
        if remaining is not None:
            return {"factor": "recovery_code", "recovery_codes_left": remaining}
    return None


def mfa_context(customer_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, str]:
    """What a person's TOTP secret is sealed to (``auth.secret_box``): copied to another row, it won't open."""
    return {"purpose": "mfa_totp", "customer_id": str(customer_id), "user_id": str(user_id)}


def _open(
    customer_id: uuid.UUID, user_id: uuid.UUID, epoch: int, amr: tuple[str, ...], at: float, detail: dict[str, Any]
) -> TokenResponse:
    now = int(at)
    new, refresh_token = sessions.new_session(
        key_id=None, subject=customer_id, role=Role.CUSTOMER, now=now, user_id=user_id, user_epoch=epoch, amr=amr
    )
    state = sessions.open_in_database(new, at, detail={**detail, "session_id": new.jti})
    if sessions.refusal(Role.CUSTOMER, state) is not None:
        # Removed, changed or suspended between the password check and now (nothing was recorded).
        raise errors.Unauthorized(_INVALID)
    return sessions.mint(new, refresh_token, now, state.tenant_role)


def _fail(
    found: people.LoginRecord | None, reason: str, now: int, *, scopes: tuple[str, str], account: str
) -> NoReturn:
    """Count the failure against both scopes, audit it when due (bounded), and raise the one answer."""
    pair_count = throttle.record_failure(scopes[0], now)
    throttle.record_failure(scopes[1], now)
    logger.warning("login failed", extra={"reason": reason, "account": account})
    # Counted for unknown addresses too: the same DynamoDB work either way.
    first_in_window = throttle.record_failure(f"audit-login#{account}", now) == 1
    if found is not None:
        actor = f"login:{account}"
        if first_in_window:
            sessions.audit(
                Role.CUSTOMER,
                found.customer_id,
                "auth.login_failed",
                key_id=None,
                user_id=found.user_id,
                actor=actor,
                detail={"reason": reason, "window_seconds": throttle.FAILURE_WINDOW, "first_in_window": True},
            )
        if pair_count == throttle.MAX_FAILURES and throttle.record_failure(f"lockout-login#{account}", now) == 1:
            sessions.audit(
                Role.CUSTOMER,
                found.customer_id,
                "auth.locked_out",
                key_id=None,
                user_id=found.user_id,
                actor=actor,
                detail={"failures": throttle.MAX_FAILURES, "window_seconds": throttle.FAILURE_WINDOW},
            )
    raise errors.Unauthorized(_INVALID)
