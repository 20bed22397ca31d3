"""Refresh: a single-use refresh token in, a new token pair out.

Refresh tokens live on their session's row in PostgreSQL (migration 0044),
stored hashed. A refresh is one transaction on the holder's audit chain:
``auth_refresh_session`` redeems the token once, under the row locks of its
family and its session, and the same transaction writes the audit event, so
a refresh either happened and is audited or did neither (a client whose
request failed may present the same token again).

* Presenting a used token again means it leaked: the whole family (every
  session refreshed from the same authentication) is revoked in the same
  statement that notices it, and the reuse audited.
* The refresh is answered against PostgreSQL now, not on the new token's first
  use: a revoked or expired key, a suspended customer, a disabled operator or
  a person whose role, password or MFA changed gets no new pair (the token is
  not spent); a session that was logged out, or issued before the customer's
  last suspension, has a dead refresh token.

Finding the holder first (``auth_refresh_holder``) is one extra read: it
names the tenant whose transaction the refresh and its audit event run in.
"""

from __future__ import annotations

from chalicelib.audit import recorder
from chalicelib.auth import clock, repository, sessions
from chalicelib.auth.models import TokenResponse
from chalicelib.core import db, errors
from chalicelib.core.observability import logger

_INVALID = "Invalid refresh token"


def refresh(refresh_token: str) -> TokenResponse:
    """Single-use rotation; presenting a used token again revokes the whole family."""
    if not refresh_token.startswith(sessions.REFRESH_PREFIX) or len(refresh_token) > 100:
        raise errors.Unauthorized(_INVALID)
    at = clock.now()
    now = int(at)
    refresh_hash = sessions.hash_refresh(refresh_token)
    with db.one_statement() as conn:
        holder = repository.refresh_holder(conn, refresh_hash)
    if holder is None:
        raise errors.Unauthorized(_INVALID)
    new, new_refresh = sessions.new_session(
        key_id=holder.key_id,
        subject=holder.subject,
        role=holder.role,
        now=now,
        user_id=holder.user_id,
        amr=holder.amr,
    )
    who = sessions.actor(holder.role, holder.subject, holder.key_id, holder.user_id)
    target_type, target_id = sessions.credential_target(holder.key_id, holder.user_id)
    with sessions.holder_transaction(holder.role, holder.subject, actor=who) as conn:
        done = repository.refresh_session(
            conn,
            refresh_hash,
            jti=new.jti,
            expires_at=new.expires_at,
            new_refresh_hash=new.refresh_hash,
            refresh_expires_at=new.refresh_expires_at,
            now=at,
        )
        audited = {
            "ok": ("auth.refreshed", {"session_id": new.jti, "previous_session_id": done.previous_jti}),
            "reused": ("auth.refresh_reused", {"family": done.family, "session_id": done.previous_jti}),
        }.get(done.outcome)
        if audited is not None:
            action, detail = audited
            recorder.record(
                conn,
                customer_id=new.customer_id,
                action=action,
                target_type=target_type,
                target_id=target_id,
                detail=detail,
            )
    if done.outcome == "ok":
        return sessions.mint(new, new_refresh, now, done.state.tenant_role)
    if done.outcome == "reused":
        logger.warning("refresh token reused; session family revoked", extra={"family": done.family})
    if done.outcome == "refused" and sessions.refusal(holder.role, done.state) == "customer_suspended":
        raise errors.Forbidden("Customer account is suspended")
    raise errors.Unauthorized(_INVALID)
