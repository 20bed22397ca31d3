"""Authentication rules: API key → session, refresh, logout, and per-request authorization.

Speed budget. ``authorize`` (every request) is one HS256 check plus ONE
PostgreSQL statement, ``auth_request_state`` (migration 0011): is the session
recorded and not revoked, is the key live (not revoked, not past its expiry or
rotation overlap), is the customer active / the operator enabled. No DynamoDB,
no bcrypt and no in-process cache, so a revocation or suspension committed by
any process - or typed straight into the database - is honoured on the very
next request everywhere.

``authenticate`` on a cache hit is one ``GetItem`` on the verification cache,
then in parallel one ``BatchWriteItem`` (session, refresh token, family: the
record) and one short database transaction that opens the session in
PostgreSQL only if the key and holder are still live (``auth_open_session``),
stamps ``last_used_at`` and writes the audit row; no bcrypt, no read of the
hash. If PostgreSQL refuses, the token is not handed out and the stale cache
entry is deleted.
"""

from __future__ import annotations

import contextvars
import hashlib
import random
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.audit import recorder
from chalicelib.auth import key_format, repository, signing, store, tokens
from chalicelib.core import context, db, errors
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

# Failed attempts against one public id *from one client address* per 5-minute
# window before 429. Per address, not per public id alone: the public id is no
# secret (key lists, audit details, logs), and a counter anyone can fill would
# let anyone lock the key's holder out. An address that keeps guessing is
# stopped before any bcrypt work; the holder, elsewhere, is not.
MAX_FAILURES = 10
REFRESH_PREFIX = "rt_"
# Expired rows of auth_sessions are purged in the background by ~1 in PURGE_EVERY authentications.
PURGE_EVERY = 100
PURGE_BATCH = 1000
_background = ThreadPoolExecutor(max_workers=4, thread_name_prefix="auth-audit")


@dataclass(frozen=True, slots=True)
class TokenPair:
    token: str
    expires_at: int
    refresh_token: str
    customer_id: uuid.UUID | None

    def as_response(self) -> dict:
        return {
            "token": self.token,
            "token_type": "Bearer",
            "expires_in": tokens.TTL_SECONDS,
            "expires_at": datetime.fromtimestamp(self.expires_at, UTC).isoformat().replace("+00:00", "Z"),
            "refresh_token": self.refresh_token,
            "customer_id": None if self.customer_id is None else str(self.customer_id),
        }


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _valid_until(stored: repository.StoredKey) -> int | None:
    ends = [e for e in (_epoch(stored.expires_at), _epoch(stored.revoked_at)) if e is not None]
    return min(ends) if ends else None


def _hash_refresh(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


def _new_session(
    *,
    key_id: uuid.UUID,
    subject: uuid.UUID,
    role: str,
    key_valid_until: int | None,
    now: int,
    family: str | None = None,
) -> tuple[store.NewSession, str]:
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    jti = uuid.uuid4().hex
    # A family is named after its first session (see store: its item is created lazily).
    return store.NewSession(
        jti=jti,
        family=family or jti,
        key_id=key_id,
        subject=subject,
        role=role,
        expires_at=now + tokens.TTL_SECONDS,
        key_valid_until=key_valid_until,
        refresh_hash=_hash_refresh(refresh_token),
        refresh_expires_at=now + store.REFRESH_TTL,
    ), refresh_token


def _mint(new: store.NewSession, refresh_token: str, now: int) -> TokenPair:
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
    )
    return TokenPair(
        token=token,
        expires_at=new.expires_at,
        refresh_token=refresh_token,
        customer_id=new.subject if new.role == "customer" else None,
    )


# ---------------------------------------------------------------- audit helpers
def _unit(role: str, subject: uuid.UUID | None, *, actor: str):
    """The holder's unit of work; ``actor`` is who the audit trail names (there is no principal yet)."""
    customer_id = subject if role == "customer" else None
    if customer_id is not None:
        return db.tenant_transaction(customer_id, actor=actor)
    return db.operator_transaction(actor=actor)


def _audit(
    role: str,
    subject: uuid.UUID | None,
    action: str,
    *,
    key_id: uuid.UUID | None,
    actor: str,
    detail: dict | None = None,
) -> None:
    """Record an authentication event on the right chain (customer's own, or the platform's)."""
    with _unit(role, subject, actor=actor) as conn:
        recorder.record(
            conn,
            customer_id=subject if role == "customer" else None,
            action=action,
            target_type="api_key",
            target_id=key_id,
            detail=detail or {},
        )


def _open_recorded(new: store.NewSession, clock: float, *, detail: dict | None = None) -> repository.LiveState:
    """Open ``new`` in PostgreSQL if its key and holder are live; with ``detail``, also stamp and audit it.

    One transaction on the holder's chain; when refused nothing is written.
    """
    with _unit(new.role, new.subject, actor=_actor(new.role, new.subject, new.key_id)) as conn:
        state = repository.open_session(
            conn,
            jti=new.jti,
            role=new.role,
            subject=new.subject,
            key_id=new.key_id,
            expires_at=new.expires_at,
            now=clock,
        )
        if detail is not None and state.key_live and state.holder_active:
            repository.touch_key(conn, new.role, new.key_id)
            recorder.record(
                conn,
                customer_id=new.subject if new.role == "customer" else None,
                action="auth.succeeded",
                target_type="api_key",
                target_id=new.key_id,
                detail=detail,
            )
    return state


def _refusal(role: str, state: repository.LiveState) -> str | None:
    """Why a live-state check refuses (``None``: it does not)."""
    if not state.key_live:
        return "expired_or_revoked"
    if not state.holder_active:
        return "customer_suspended" if role == "customer" else "operator_disabled"
    return None


def _revoke_in_db(jtis: set[str] | list[str], now: int) -> None:
    with db.one_statement() as conn:
        repository.revoke_sessions(conn, jtis, expires_at=now + tokens.TTL_SECONDS)


def _purge_expired_sessions() -> None:
    try:
        with db.one_statement() as conn:
            repository.purge_sessions(conn, PURGE_BATCH)
    except Exception:  # noqa: BLE001 - best effort, in the background: never fails a request
        logger.exception("purging expired sessions failed")


def _actor(role: str, subject: uuid.UUID, key_id: uuid.UUID) -> str:
    return context.actor_for(context.Principal(role=role, subject=subject, key_id=key_id, session_id=""))


def throttle_scope(public_id: str, client_address: str | None) -> str:
    """What failed attempts are counted against: the public id as seen from one client address."""
    address = (client_address or "unknown")[:64]
    return f"{public_id}#{address}"


def _fail(
    parsed: key_format.ParsedKey,
    reason: str,
    now: int,
    *,
    scope: str,
    stored: repository.StoredKey | None = None,
    count: bool = True,
) -> errors.DomainError:
    """Log and count a failed authentication, audit it when due (see below); return the error to raise.

    The audit trail is permanent and each chain appends under one lock, so an
    unauthenticated caller must not be able to write to it at will: a public id
    that matches no key is logged only (there is no tenant to tell), and for a
    real key only the first failure per public id and 5-minute window becomes
    an ``auth.failed`` event on the holder's chain (the count of the rest is in
    the logs and the throttle counters). At most 288 events per key and day.

    The failure that locks an address out (the ``MAX_FAILURES``-th in its
    window: from then on that address gets 429) is a lockout, bounded the same
    way: the first per public id and window becomes ``auth.locked_out`` on the
    holder's chain, whatever the number of addresses locked out.
    """
    failures = store.record_failure(scope, now) if count else 0
    logger.warning("authentication failed", extra={"public_id": parsed.public_id, "reason": reason})
    if stored is not None and store.record_failure(f"audit#{parsed.public_id}", now) == 1:
        _audit(
            stored.role,
            stored.subject,
            "auth.failed",
            key_id=stored.key_id,
            actor=f"api_key:{parsed.public_id}",
            detail={
                "public_id": parsed.public_id,
                "reason": reason,
                "window_seconds": store.FAILURE_WINDOW,
                "first_in_window": True,
            },
        )
    if failures == MAX_FAILURES:
        logger.warning("authentication locked out", extra={"public_id": parsed.public_id})
        if stored is not None and store.record_failure(f"lockout#{parsed.public_id}", now) == 1:
            _audit(
                stored.role,
                stored.subject,
                "auth.locked_out",
                key_id=stored.key_id,
                actor=f"api_key:{parsed.public_id}",
                detail={
                    "public_id": parsed.public_id,
                    "failures": MAX_FAILURES,
                    "window_seconds": store.FAILURE_WINDOW,
                    "first_in_window": True,
                },
            )
    if reason == "customer_suspended":
        return errors.Forbidden("Customer account is suspended")
    return errors.Unauthorized("Invalid API key")


# ---------------------------------------------------------------- authenticate
def authenticate(raw_key: str | None, *, client_address: str | None = None) -> TokenPair:
    """Exchange an API key for a token pair (see the module docstring for the cost).

    ``client_address`` is the caller's address as API Gateway saw it (not a
    header a client can set): failed attempts are throttled per public id and
    address, so nobody else can lock a key's holder out.
    """
    parsed = key_format.parse(raw_key)
    if parsed is None:
        logger.warning("authentication failed", extra={"reason": "malformed_key"})
        raise errors.Unauthorized("Invalid API key")
    clock = time.time()
    now = int(clock)
    digest = key_format.cache_digest(signing.pepper(), raw_key.strip())
    scope = throttle_scope(parsed.public_id, client_address)
    hit = store.cached_verification(digest, now)
    if hit is not None and hit.public_id == parsed.public_id:
        return _open(
            parsed,
            key_id=hit.key_id,
            subject=hit.subject,
            role=hit.role,
            valid_until=hit.valid_until,
            clock=clock,
            cache_digest=digest,
            cache_entry=None,
            scope=scope,
        )
    return _authenticate_with_bcrypt(parsed, digest, clock, scope)


def _authenticate_with_bcrypt(parsed: key_format.ParsedKey, digest: str, clock: float, scope: str) -> TokenPair:
    now = int(clock)
    failures, retry_after = store.failures(scope, now)
    if failures >= MAX_FAILURES:
        logger.warning("authentication throttled", extra={"public_id": parsed.public_id})
        raise errors.RateLimited("Too many failed attempts for this key", retry_after=retry_after)
    cost = get_settings().bcrypt_cost
    with db.plain_transaction() as conn:
        find = repository.find_operator_key if parsed.is_operator else repository.find_customer_key
        stored = find(conn, parsed.public_id)
    if stored is None:
        key_format.burn_equivalent_time(parsed.secret, cost)
        raise _fail(parsed, "unknown_key", now, scope=scope)
    if not key_format.verify_secret(parsed.secret, stored.secret_hash):
        raise _fail(parsed, "wrong_secret", now, scope=scope, stored=stored)
    valid_until = _valid_until(stored)
    if valid_until is not None and valid_until <= now:
        raise _fail(parsed, "expired_or_revoked", now, scope=scope, stored=stored)
    if not stored.holder_active:
        reason = "customer_suspended" if stored.role == "customer" else "operator_disabled"
        raise _fail(parsed, reason, now, scope=scope, stored=stored, count=False)
    entry = store.CachedVerification(
        key_id=stored.key_id,
        role=stored.role,
        subject=stored.subject,
        public_id=parsed.public_id,
        valid_until=valid_until,
    )
    return _open(
        parsed,
        key_id=stored.key_id,
        subject=stored.subject,
        role=stored.role,
        valid_until=valid_until,
        clock=clock,
        cache_digest=digest,
        cache_entry=entry,
        scope=scope,
    )


def _open(
    parsed: key_format.ParsedKey,
    *,
    key_id: uuid.UUID,
    subject: uuid.UUID,
    role: str,
    valid_until: int | None,
    clock: float,
    cache_digest: str,
    cache_entry: store.CachedVerification | None,
    scope: str,
) -> TokenPair:
    now = int(clock)
    new, refresh_token = _new_session(key_id=key_id, subject=subject, role=role, key_valid_until=valid_until, now=now)
    customer_id = subject if role == "customer" else None
    detail = {"public_id": parsed.public_id, "session_id": new.jti, "cached": cache_entry is None}

    def record() -> repository.LiveState:
        return _open_recorded(new, clock, detail=detail)

    if cache_entry is None:
        # Cache hit: the session record (DynamoDB) and the PostgreSQL transaction that opens
        # the session, stamps the key and audits go in parallel; the cache-hit budget is 10 ms.
        pending = _background.submit(contextvars.copy_context().run, record)
        try:
            store.open_session(new, customer_id=customer_id, now=now)
        finally:
            state = pending.result()
    else:
        # Fill: the entry and its marker are written before PostgreSQL is read (store's docstring).
        store.open_session(new, customer_id=customer_id, now=now, cache_digest=cache_digest, cache_entry=cache_entry)
        state = record()
    reason = _refusal(role, state)
    if reason is not None:
        # Revoked, expired or suspended since the entry was cached (or while we filled it).
        store.drop_cached_verification(cache_digest)
        store.revoke_family(new.family)
        stored = repository.StoredKey(
            key_id=key_id,
            role=role,
            subject=subject,
            secret_hash="",
            expires_at=None,
            revoked_at=None,
            holder_active=state.holder_active,
        )
        raise _fail(parsed, reason, now, scope=scope, stored=stored, count=reason == "expired_or_revoked")
    if random.randrange(PURGE_EVERY) == 0:
        _background.submit(_purge_expired_sessions)
    return _mint(new, refresh_token, now)


# ---------------------------------------------------------------- refresh and logout
def refresh(refresh_token: str) -> TokenPair:
    """Single-use rotation; presenting a used token again revokes the whole family."""
    if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
        raise errors.Unauthorized("Invalid refresh token")
    clock = time.time()
    now = int(clock)
    try:
        claimed = store.claim_refresh(_hash_refresh(refresh_token), now)
    except store.RefreshReused as reused:
        revoked = store.revoke_family(reused.family)
        _revoke_in_db(revoked | {reused.item["jti"]}, now)
        logger.warning("refresh token reused; session family revoked", extra={"family": reused.family})
        role, subject = reused.item["role"], uuid.UUID(reused.item["subject"])
        key_id = uuid.UUID(reused.item["token_key_id"])
        _audit(
            role,
            subject,
            "auth.refresh_reused",
            key_id=key_id,
            actor=_actor(role, subject, key_id),
            detail={"family": reused.family, "session_id": reused.item["jti"]},
        )
        raise errors.Unauthorized("Invalid refresh token") from None
    if claimed is None:
        raise errors.Unauthorized("Invalid refresh token")
    key_id, subject, role = uuid.UUID(claimed["key_id"]), uuid.UUID(claimed["subject"]), claimed["role"]
    key_valid_until = claimed.get("key_valid_until")
    if key_valid_until is not None and key_valid_until <= now:
        raise errors.Unauthorized("Invalid refresh token")
    new, new_refresh = _new_session(
        key_id=key_id, subject=subject, role=role, key_valid_until=key_valid_until, now=now, family=claimed["family"]
    )
    customer_id = subject if role == "customer" else None
    # The key may have been revoked or the customer suspended: answer now, not on the token's first use.
    # The new session is recorded in PostgreSQL before it joins the family, so a concurrent family
    # revocation either refuses the join (we revoke it) or lists it (and revokes it).
    state = _open_recorded(new, clock)
    reason = _refusal(role, state)
    if reason == "customer_suspended":
        raise errors.Forbidden("Customer account is suspended")
    if reason is not None:
        raise errors.Unauthorized("Invalid refresh token")
    if role == "customer" and _issued_before_suspension(subject, store.refresh_issued_at(claimed)):
        # A suspension ended every session of the customer: reactivation asks for a new authentication.
        _revoke_in_db(store.revoke_family(claimed["family"]) | {new.jti}, now)
        raise errors.Unauthorized("Invalid refresh token")
    try:
        store.rotate_session(claimed["jti"], new, customer_id=customer_id)
    except store.SessionFamilyRevoked:
        _revoke_in_db([new.jti], now)
        raise errors.Unauthorized("Invalid refresh token") from None
    with _unit(role, subject, actor=_actor(role, subject, key_id)) as conn:
        repository.revoke_sessions(conn, [claimed["jti"]], expires_at=now + tokens.TTL_SECONDS)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="auth.refreshed",
            target_type="api_key",
            target_id=key_id,
            detail={"session_id": new.jti, "previous_session_id": claimed["jti"]},
        )
    return _mint(new, new_refresh, now)


def _issued_before_suspension(customer_id: uuid.UUID, issued_at: float) -> bool:
    with db.tenant_transaction(customer_id) as conn:
        valid_from = repository.sessions_valid_from(conn, customer_id)
    return valid_from is not None and issued_at < valid_from.timestamp()


def logout(principal: context.Principal) -> None:
    now = int(time.time())
    session = store.get_session(principal.session_id)
    revoked = store.revoke_session(principal.session_id, session.get("family") if session else None)
    _revoke_in_db(revoked, now)
    _audit(
        principal.role,
        principal.subject,
        "auth.logout",
        key_id=principal.key_id,
        actor=context.actor_for(principal),
        detail={"session_id": principal.session_id},
    )


# ---------------------------------------------------------------- per request
def authorize(authorization: str | None) -> context.Principal:
    """The principal behind ``Authorization: Bearer <JWT>``: 401 unless valid and live, 403 if suspended."""
    if not authorization:
        raise errors.Unauthorized("Missing bearer token")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 4096:
        raise errors.Unauthorized("Missing or malformed bearer token")
    settings = get_settings()
    try:
        try:
            claims = tokens.verify(token, signing.keyring(), issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        except tokens.InvalidToken as first:
            if str(first) != "Unknown signing key":
                raise
            # The signing secret may have been rotated by another process: re-read it once.
            claims = tokens.verify(
                token, signing.keyring(refresh=True), issuer=settings.jwt_issuer, audience=settings.jwt_audience
            )
    except tokens.InvalidToken as exc:
        raise errors.Unauthorized(str(exc)) from None
    with db.one_statement() as conn:
        state = repository.request_state(
            conn, role=claims.role, subject=claims.subject, key_id=claims.key_id, jti=claims.jti, now=time.time()
        )
    # Suspension first: it also revokes the customer's sessions (migration 0032), and while it
    # lasts the contract's answer is 403; after reactivation those sessions stay dead (401).
    # (key_live: the key exists for this subject, so a forged ``sub`` is still a 401.)
    if not state.holder_active and state.key_live and claims.role == "customer":
        raise errors.Forbidden("Customer account is suspended")
    if not state.session_live:
        raise errors.Unauthorized("Session is not valid")
    if not state.key_live:
        raise errors.Unauthorized("API key has been revoked or has expired")
    if not state.holder_active:
        raise errors.Unauthorized("Operator is disabled")
    return context.Principal(role=claims.role, subject=claims.subject, key_id=claims.key_id, session_id=claims.jti)
