"""Sessions: the token pair a session is handed, its row in PostgreSQL, its audit events, logout.

Authentication (``auth.authentication``), a person's login (``auth.login``)
and refresh (``auth.token_refresh``) open a session the same way: a new jti
and single-use refresh token (:func:`new_session`), both recorded in
PostgreSQL, in the one statement that opens the session only while its key
and holder are live (:func:`open_in_database`, one transaction on the
holder's audit chain), then a signed token (:func:`mint`). PostgreSQL is the
only record of sessions, refresh tokens and their families (migration 0044):
the guard (``auth.authorization``) reads the session's row on every request,
so revoking it there (:func:`logout`, a refresh's reuse, a suspension) ends it
everywhere at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth import clock, people, repository, signing, tokens
from chalicelib.auth.models import TokenResponse
from chalicelib.auth.repository import NewSession
from chalicelib.core import context, db
from chalicelib.core.context import Role, TenantRole
from chalicelib.core.db import Connection
from chalicelib.core.settings import get_settings

REFRESH_PREFIX = "rt_"
REFRESH_TTL = 7 * 24 * 3600
# Why a key whose holder is not active is refused (logs, the auth.failed audit detail).
_HOLDER_INACTIVE = {Role.CUSTOMER: "customer_suspended", Role.OPERATOR: "operator_disabled"}


def hash_refresh(refresh_token: str) -> str:
    """How a refresh token is stored and looked up: its SHA-256, hex (it is random, so no salt is needed)."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def new_session(
    *,
    key_id: uuid.UUID | None,
    subject: uuid.UUID,
    role: Role,
    now: int,
    user_id: uuid.UUID | None = None,
    user_epoch: int | None = None,
    amr: tuple[str, ...] = ("key",),
) -> tuple[NewSession, str]:
    """A new session and its refresh token, shown once (the token is stored as :func:`hash_refresh`).

    An API key's session names the key; a person's names the user and the
    session epoch their login read (see migration 0038), and how they
    authenticated (``amr``).
    """
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return NewSession(
        jti=uuid.uuid4().hex,
        key_id=key_id,
        subject=subject,
        role=role,
        expires_at=now + tokens.TTL_SECONDS,
        refresh_hash=hash_refresh(refresh_token),
        refresh_expires_at=now + REFRESH_TTL,
        user_id=user_id,
        user_epoch=user_epoch,
        amr=amr,
    ), refresh_token


def mint(new: NewSession, refresh_token: str, now: int, tenant_role: TenantRole | None) -> TokenResponse:
    """The signed access token of ``new`` (acting as ``tenant_role``, as PostgreSQL said), with its refresh token."""
    settings = get_settings()
    token = tokens.issue(
        signing.keyring(),
        subject=new.subject,
        role=new.role,
        key_id=new.key_id,
        jti=new.jti,
        now=now,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        user_id=new.user_id,
        tenant_role=tenant_role,
        amr=new.amr,
    )
    return TokenResponse(
        token=token,
        expires_in=tokens.TTL_SECONDS,
        expires_at=datetime.fromtimestamp(new.expires_at, UTC),
        refresh_token=refresh_token,
        customer_id=new.customer_id,
    )


def actor(role: Role, subject: uuid.UUID, key_id: uuid.UUID | None, user_id: uuid.UUID | None = None) -> str:
    """How the audit trail names a key's holder or a person (there is no request principal yet)."""
    return context.actor_for(
        context.Principal(role=role, subject=subject, key_id=key_id, session_id="", user_id=user_id)
    )


def credential_target(key_id: uuid.UUID | None, user_id: uuid.UUID | None) -> tuple[str, uuid.UUID | None]:
    """The audit target of an authentication event: the person, or the API key."""
    return ("user", user_id) if user_id is not None else ("api_key", key_id)


def holder_transaction(role: Role, subject: uuid.UUID, *, actor: str) -> contextlib.AbstractContextManager[Connection]:
    """The holder's unit of work (its tenant's, or an operator's); ``actor`` is who the audit trail names."""
    customer_id = role.customer_id(subject)
    if customer_id is not None:
        return db.tenant_transaction(customer_id, actor=actor)
    return db.operator_transaction(actor=actor)


def audit(
    role: Role,
    subject: uuid.UUID,
    action: str,
    *,
    key_id: uuid.UUID | None,
    actor: str,
    detail: dict[str, Any] | None = None,
    user_id: uuid.UUID | None = None,
) -> None:
    """Record an authentication event on the right chain (customer's own, or the platform's)."""
    target_type, target_id = credential_target(key_id, user_id)
    with holder_transaction(role, subject, actor=actor) as conn:
        recorder.record(
            conn,
            customer_id=role.customer_id(subject),
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail or {},
        )


def open_in_database(new: NewSession, at: float, *, detail: dict[str, Any]) -> repository.LiveState:
    """Open ``new`` and record its refresh token if its key and holder are live; stamp and audit it.

    One transaction on the holder's chain; when refused nothing is written.
    """
    who = actor(new.role, new.subject, new.key_id, new.user_id)
    with holder_transaction(new.role, new.subject, actor=who) as conn:
        state = repository.open_session(conn, new, now=at)
        if state.key_live and state.holder_active:
            if new.key_id is not None:
                repository.touch_key(conn, new.role, new.key_id)
            if new.user_id is not None:
                people.touch_login(conn, new.user_id)
            target_type, target_id = credential_target(new.key_id, new.user_id)
            recorder.record(
                conn,
                customer_id=new.customer_id,
                action="auth.succeeded",
                target_type=target_type,
                target_id=target_id,
                detail=detail,
            )
    return state


def holder_inactive(role: Role) -> str:
    """The refusal reason for a key whose holder is not active: a suspended customer, a disabled operator."""
    return _HOLDER_INACTIVE[role]


def refusal(role: Role, state: repository.LiveState) -> str | None:
    """Why a live-state check refuses (``None``: it does not)."""
    if not state.key_live:
        return "expired_or_revoked"
    if not state.holder_active:
        return holder_inactive(role)
    return None


def logout(principal: context.Principal) -> None:
    """End the caller's session and every session refreshed from the same authentication; audit it.

    One transaction: the family's sessions are revoked (``auth_end_session``,
    migration 0044) and the logout recorded together.
    """
    until = int(clock.now()) + REFRESH_TTL
    with holder_transaction(principal.role, principal.subject, actor=context.actor_for(principal)) as conn:
        repository.end_session(conn, principal.session_id, until=until)
        target_type, target_id = credential_target(principal.key_id, principal.user_id)
        recorder.record(
            conn,
            customer_id=principal.role.customer_id(principal.subject),
            action="auth.logout",
            target_type=target_type,
            target_id=target_id,
            detail={"session_id": principal.session_id},
        )
