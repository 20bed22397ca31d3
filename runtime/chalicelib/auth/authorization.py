"""Per-request authorization: the principal behind a bearer token, decided by PostgreSQL.

Speed budget: one HS256 check (PyJWT, the key picked by ``kid``) plus ONE PostgreSQL
statement, autocommit, one round trip: ``auth_key_session_state``,
``auth_user_session_state`` or ``auth_operator_session_state`` by the kind of
session the token names (migration 0045; they answer as ``auth_request_state2``
of 0011/0038 did, without its nested functions): is the session recorded and
not revoked, is the key live (not revoked, not past its expiry or rotation
overlap) or the person still a member with the same role, password and MFA
(their session epoch), is the customer active / the operator enabled; and the
credential's tenant role and the tenant's ``require_mfa``, which the
permission guard (``auth.permission_guard``) then applies. No DynamoDB, no
bcrypt and no in-process cache, so a revocation or suspension committed by
any process - or typed straight into the database - is honoured on the very
next request everywhere.
"""

from __future__ import annotations

from chalicelib.auth import clock, repository, signing, tokens
from chalicelib.core import context, db, errors
from chalicelib.core.context import Role
from chalicelib.core.settings import get_settings


def authorize(authorization: str | None) -> context.Principal:
    """The principal behind ``Authorization: Bearer <JWT>``: 401 unless valid and live, 403 if suspended."""
    if not authorization:
        raise errors.Unauthorized("Missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 4096:
        raise errors.Unauthorized("Missing or malformed bearer token")
    claims = _verified_claims(token)
    with db.one_statement() as conn:
        state = repository.request_state(
            conn,
            role=claims.role,
            subject=claims.subject,
            key_id=claims.key_id,
            user_id=claims.user_id,
            jti=claims.jti,
            now=clock.now(),
        )
    # Suspension first: it also revokes the customer's sessions (migration 0032), and while it
    # lasts the contract's answer is 403; after reactivation those sessions stay dead (401).
    # (key_live: the key exists for this subject, so a forged ``sub`` is still a 401.)
    if not state.holder_active and state.key_live and claims.role is Role.CUSTOMER:
        raise errors.Forbidden("Customer account is suspended")
    if not state.session_live:
        raise errors.Unauthorized("Session is not valid")
    if not state.key_live:
        raise errors.Unauthorized("API key has been revoked or has expired")
    if not state.holder_active:
        raise errors.Unauthorized("Operator is disabled")
    # The tenant role and the MFA requirement are read now, from PostgreSQL, not from the token.
    return context.Principal(
        role=claims.role,
        subject=claims.subject,
        key_id=claims.key_id,
        session_id=claims.jti,
        tenant_role=state.tenant_role,
        user_id=claims.user_id,
        amr=claims.amr,
        require_mfa=state.require_mfa,
    )


def _verified_claims(token: str) -> tokens.Claims:
    settings = get_settings()
    try:
        try:
            return tokens.verify(token, signing.keyring(), issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        except tokens.InvalidToken as first:
            if str(first) != "Unknown signing key":
                raise
            # The signing secret may have been rotated by another process: re-read it once.
            return tokens.verify(
                token, signing.keyring(refresh=True), issuer=settings.jwt_issuer, audience=settings.jwt_audience
            )
    except tokens.InvalidToken as exc:
        raise errors.Unauthorized(str(exc)) from None
