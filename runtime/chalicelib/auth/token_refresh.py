"""Refresh: a single-use refresh token in, a new token pair out.

Each refresh token is used once (``auth.session_records``: claiming it is a
conditional write). Presenting a used one again means it leaked: the whole
family (every session refreshed from the same authentication) is revoked, in
DynamoDB and PostgreSQL, and the reuse audited. A refresh is answered now
against PostgreSQL, not on the new token's first use: a revoked or expired
key, a suspended customer (or one suspended since the token was issued) or a
disabled operator gets no new pair.
"""

from __future__ import annotations

import uuid

from chalicelib.audit import recorder
from chalicelib.auth import clock, repository, session_records, sessions, tokens
from chalicelib.auth.models import TokenResponse
from chalicelib.core import db, errors
from chalicelib.core.context import Role
from chalicelib.core.observability import logger

_INVALID = "Invalid refresh token"


def refresh(refresh_token: str) -> TokenResponse:
    """Single-use rotation; presenting a used token again revokes the whole family."""
    if not refresh_token.startswith(sessions.REFRESH_PREFIX) or len(refresh_token) > 100:
        raise errors.Unauthorized(_INVALID)
    at = clock.now()
    now = int(at)
    try:
        claimed = session_records.claim_refresh(sessions.hash_refresh(refresh_token), now)
    except session_records.RefreshReused as reused:
        _revoke_reused(reused, now)
        raise errors.Unauthorized(_INVALID) from None
    if claimed is None:
        raise errors.Unauthorized(_INVALID)
    subject, role = uuid.UUID(claimed["subject"]), Role(claimed["role"])
    key_id, user_id = tokens.optional_uuid(claimed.get("key_id")), tokens.optional_uuid(claimed.get("user_id"))
    key_valid_until = claimed.get("key_valid_until")
    if key_valid_until is not None and key_valid_until <= now:
        raise errors.Unauthorized(_INVALID)
    new, new_refresh = sessions.new_session(
        key_id=key_id,
        subject=subject,
        role=role,
        key_valid_until=key_valid_until,
        now=now,
        family=claimed["family"],
        user_id=user_id,
        user_epoch=claimed.get("user_epoch"),
        amr=tuple(str(claimed.get("amr", "key")).split()),
    )
    # The key may have been revoked, the customer suspended, or the person removed, or their
    # role, password or MFA changed (the epoch): answer now, not on the token's first use.
    # The new session is recorded in PostgreSQL before it joins the family, so a concurrent family
    # revocation either refuses the join (we revoke it) or lists it (and revokes it).
    state = sessions.open_in_database(new, at)
    reason = sessions.refusal(role, state)
    if reason == "customer_suspended":
        raise errors.Forbidden("Customer account is suspended")
    if reason is not None:
        raise errors.Unauthorized(_INVALID)
    customer_id = role.customer_id(subject)
    if customer_id is not None and _issued_before_suspension(customer_id, session_records.refresh_issued_at(claimed)):
        # A suspension ended every session of the customer: reactivation asks for a new authentication.
        sessions.revoke_in_database(session_records.revoke_family(claimed["family"]) | {new.jti}, now)
        raise errors.Unauthorized(_INVALID)
    try:
        session_records.rotate_session(claimed["jti"], new)
    except session_records.SessionFamilyRevoked:
        sessions.revoke_in_database([new.jti], now)
        raise errors.Unauthorized(_INVALID) from None
    target_type, target_id = sessions.credential_target(key_id, user_id)
    with sessions.holder_transaction(role, subject, actor=sessions.actor(role, subject, key_id, user_id)) as conn:
        repository.revoke_sessions(conn, [claimed["jti"]], expires_at=now + tokens.TTL_SECONDS)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="auth.refreshed",
            target_type=target_type,
            target_id=target_id,
            detail={"session_id": new.jti, "previous_session_id": claimed["jti"]},
        )
    return sessions.mint(new, new_refresh, now, state.tenant_role)


def _revoke_reused(reused: session_records.RefreshReused, now: int) -> None:
    """A used refresh token came back: revoke its whole family and audit the reuse."""
    revoked = session_records.revoke_family(reused.family)
    sessions.revoke_in_database(revoked | {reused.item["jti"]}, now)
    logger.warning("refresh token reused; session family revoked", extra={"family": reused.family})
    role, subject = Role(reused.item["role"]), uuid.UUID(reused.item["subject"])
    key_id, user_id = (
        tokens.optional_uuid(reused.item.get("token_key_id")),
        tokens.optional_uuid(reused.item.get("user_id")),
    )
    sessions.audit(
        role,
        subject,
        "auth.refresh_reused",
        key_id=key_id,
        user_id=user_id,
        actor=sessions.actor(role, subject, key_id, user_id),
        detail={"family": reused.family, "session_id": reused.item["jti"]},
    )


def _issued_before_suspension(customer_id: uuid.UUID, issued_at: float) -> bool:
    with db.tenant_transaction(customer_id) as conn:
        valid_from = repository.sessions_valid_from(conn, customer_id)
    return valid_from is not None and issued_at < valid_from.timestamp()
