"""Authentication rules: API key → session, refresh, logout, and per-request authorization.

Speed budget. ``authorize`` (every request) is one HS256 check plus one
strongly consistent DynamoDB ``BatchGetItem`` of the session row, the key's
marker and the customer's flag — no database, no bcrypt, and no in-process
cache, so a revocation written by any process is honoured on the very next
request everywhere. ``authenticate`` on a cache hit is one ``GetItem`` on the
verification cache, one ``BatchWriteItem`` (session, refresh token, family)
and, in parallel with it, one short database transaction for
``last_used_at`` and the audit row; no bcrypt, no read of the hash.
"""
from __future__ import annotations

import contextvars
import hashlib
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.audit import recorder
from chalicelib.auth import keys, repository, signing, store, tokens
from chalicelib.core import context, db, errors
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

# Failed attempts against one public id per 5-minute window before 429.
MAX_FAILURES = 10
REFRESH_PREFIX = "rt_"
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


def _new_session(*, key_id: uuid.UUID, subject: uuid.UUID, role: str, key_valid_until: int | None, now: int,
                 family: str | None = None) -> tuple[store.NewSession, str]:
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    return store.NewSession(
        jti=uuid.uuid4().hex, family=family or uuid.uuid4().hex, key_id=key_id, subject=subject, role=role,
        expires_at=now + tokens.TTL_SECONDS, key_valid_until=key_valid_until,
        refresh_hash=_hash_refresh(refresh_token), refresh_expires_at=now + store.REFRESH_TTL,
    ), refresh_token


def _mint(new: store.NewSession, refresh_token: str, now: int) -> TokenPair:
    settings = get_settings()
    token = tokens.issue(signing.keyring(), subject=new.subject, role=new.role, key_id=new.key_id, jti=new.jti,
                         now=now, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return TokenPair(token=token, expires_at=new.expires_at, refresh_token=refresh_token,
                     customer_id=new.subject if new.role == "customer" else None)


# ---------------------------------------------------------------- audit helpers
def _audit(role: str, subject: uuid.UUID | None, action: str, *, key_id: uuid.UUID | None, actor: str,
           detail: dict | None = None, touch: bool = False) -> None:
    """Record an authentication event on the right chain (customer's own, or the platform's)."""
    customer_id = subject if role == "customer" else None
    unit = db.tenant_transaction(customer_id) if customer_id is not None else db.operator_transaction()
    with unit as conn:
        if touch and key_id is not None:
            repository.touch_key(conn, role, key_id)
        recorder.record(conn, customer_id=customer_id, action=action, target_type="api_key",
                        target_id=key_id, detail=detail or {}, actor=actor)


def _actor(role: str, subject: uuid.UUID, key_id: uuid.UUID) -> str:
    return recorder.actor_for(context.Principal(role=role, subject=subject, key_id=key_id, session_id=""))


def _fail(parsed: keys.ParsedKey, reason: str, now: int, *, stored: repository.StoredKey | None = None,
          count: bool = True) -> errors.DomainError:
    """Log, audit (public id only) and count a failed authentication; return the error to raise."""
    if count:
        store.record_failure(parsed.public_id, now)
    logger.warning("authentication failed", extra={"public_id": parsed.public_id, "reason": reason})
    role = stored.role if stored else ("operator" if parsed.is_operator else "customer")
    _audit(role, stored.subject if stored else None, "auth.failed", key_id=stored.key_id if stored else None,
           actor=f"api_key:{parsed.public_id}", detail={"public_id": parsed.public_id, "reason": reason})
    if reason == "customer_suspended":
        return errors.Forbidden("Customer account is suspended")
    return errors.Unauthorized("Invalid API key")


# ---------------------------------------------------------------- authenticate
def authenticate(raw_key: str | None) -> TokenPair:
    """Exchange an API key for a token pair (see the module docstring for the cost)."""
    parsed = keys.parse(raw_key)
    if parsed is None:
        logger.warning("authentication failed", extra={"reason": "malformed_key"})
        raise errors.Unauthorized("Invalid API key")
    now = int(time.time())
    digest = keys.cache_digest(signing.pepper(), raw_key.strip())
    hit = store.cached_verification(digest, now)
    if hit is not None and hit.public_id == parsed.public_id:
        return _open(parsed, key_id=hit.key_id, subject=hit.subject, role=hit.role, valid_until=hit.valid_until,
                     now=now, cache_digest=None, cache_entry=None)
    return _authenticate_with_bcrypt(parsed, digest, now)


def _authenticate_with_bcrypt(parsed: keys.ParsedKey, digest: str, now: int) -> TokenPair:
    failures, retry_after = store.failures(parsed.public_id, now)
    if failures >= MAX_FAILURES:
        logger.warning("authentication throttled", extra={"public_id": parsed.public_id})
        raise errors.RateLimited("Too many failed attempts for this key", retry_after=retry_after)
    cost = get_settings().bcrypt_cost
    with db.plain_transaction() as conn:
        find = repository.find_operator_key if parsed.is_operator else repository.find_customer_key
        stored = find(conn, parsed.public_id)
    if stored is None:
        keys.burn_equivalent_time(parsed.secret, cost)
        raise _fail(parsed, "unknown_key", now)
    if not keys.verify_secret(parsed.secret, stored.secret_hash):
        raise _fail(parsed, "wrong_secret", now, stored=stored)
    valid_until = _valid_until(stored)
    if valid_until is not None and valid_until <= now:
        raise _fail(parsed, "expired_or_revoked", now, stored=stored)
    if not stored.holder_active:
        reason = "customer_suspended" if stored.role == "customer" else "operator_disabled"
        raise _fail(parsed, reason, now, stored=stored, count=False)
    entry = store.CachedVerification(key_id=stored.key_id, role=stored.role, subject=stored.subject,
                                     public_id=parsed.public_id, valid_until=valid_until)
    return _open(parsed, key_id=stored.key_id, subject=stored.subject, role=stored.role, valid_until=valid_until,
                 now=now, cache_digest=digest, cache_entry=entry)


def _open(parsed: keys.ParsedKey, *, key_id: uuid.UUID, subject: uuid.UUID, role: str, valid_until: int | None,
          now: int, cache_digest: str | None, cache_entry: store.CachedVerification | None) -> TokenPair:
    new, refresh_token = _new_session(key_id=key_id, subject=subject, role=role, key_valid_until=valid_until, now=now)
    customer_id = subject if role == "customer" else None
    stored = repository.StoredKey(key_id=key_id, role=role, subject=subject, secret_hash="", expires_at=None,
                                  revoked_at=None, holder_active=True)

    def audit_success() -> None:
        _audit(role, subject, "auth.succeeded", key_id=key_id, actor=_actor(role, subject, key_id),
               detail={"public_id": parsed.public_id, "session_id": new.jti, "cached": cache_entry is None},
               touch=True)

    if cache_entry is None:
        # Cache hit: nothing left can refuse the session, so the audit row (database) and
        # the session write (DynamoDB) go in parallel; the cache-hit budget is 10 ms.
        pending = _background.submit(contextvars.copy_context().run, audit_success)
        store.open_session(new, customer_id=customer_id, now=now)
        pending.result()
        return _mint(new, refresh_token, now)
    try:
        store.open_session(new, customer_id=customer_id, now=now, cache_digest=cache_digest, cache_entry=cache_entry)
    except store.KeyNotLive:
        raise _fail(parsed, "expired_or_revoked", now, stored=stored) from None
    except store.CustomerSuspended:
        raise _fail(parsed, "customer_suspended", now, stored=stored, count=False) from None
    audit_success()
    return _mint(new, refresh_token, now)


# ---------------------------------------------------------------- refresh and logout
def refresh(refresh_token: str) -> TokenPair:
    """Single-use rotation; presenting a used token again revokes the whole family."""
    if not refresh_token.startswith(REFRESH_PREFIX) or len(refresh_token) > 100:
        raise errors.Unauthorized("Invalid refresh token")
    now = int(time.time())
    try:
        claimed = store.claim_refresh(_hash_refresh(refresh_token), now)
    except store.RefreshReused as reused:
        store.revoke_family(reused.family)
        logger.warning("refresh token reused; session family revoked", extra={"family": reused.family})
        role, subject = reused.item["role"], uuid.UUID(reused.item["subject"])
        key_id = uuid.UUID(reused.item["token_key_id"])
        _audit(role, subject, "auth.refresh_reused", key_id=key_id, actor=_actor(role, subject, key_id),
               detail={"family": reused.family, "session_id": reused.item["jti"]})
        raise errors.Unauthorized("Invalid refresh token") from None
    if claimed is None:
        raise errors.Unauthorized("Invalid refresh token")
    key_id, subject, role = uuid.UUID(claimed["key_id"]), uuid.UUID(claimed["subject"]), claimed["role"]
    key_valid_until = claimed.get("key_valid_until")
    if key_valid_until is not None and key_valid_until <= now:
        raise errors.Unauthorized("Invalid refresh token")
    new, new_refresh = _new_session(key_id=key_id, subject=subject, role=role, key_valid_until=key_valid_until,
                                    now=now, family=claimed["family"])
    customer_id = subject if role == "customer" else None
    # The key may have been revoked or the customer suspended: answer now, not on the token's first use.
    _check_markers(store.request_state(claimed["jti"], key_id, customer_id), now, key_valid_until)
    try:
        store.rotate_session(claimed["jti"], new, customer_id=customer_id)
    except store.SessionFamilyRevoked:
        raise errors.Unauthorized("Invalid refresh token") from None
    _audit(role, subject, "auth.refreshed", key_id=key_id, actor=_actor(role, subject, key_id),
           detail={"session_id": new.jti, "previous_session_id": claimed["jti"]})
    return _mint(new, new_refresh, now)


def logout(principal: context.Principal) -> None:
    session = store.get_session(principal.session_id)
    store.revoke_session(principal.session_id, session.get("family") if session else None)
    _audit(principal.role, principal.subject, "auth.logout", key_id=principal.key_id,
           actor=recorder.actor_for(principal), detail={"session_id": principal.session_id})


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
            claims = tokens.verify(token, signing.keyring(), issuer=settings.jwt_issuer,
                                   audience=settings.jwt_audience)
        except tokens.InvalidToken as first:
            if str(first) != "Unknown signing key":
                raise
            # The signing secret may have been rotated by another process: re-read it once.
            claims = tokens.verify(token, signing.keyring(refresh=True), issuer=settings.jwt_issuer,
                                   audience=settings.jwt_audience)
    except tokens.InvalidToken as exc:
        raise errors.Unauthorized(str(exc)) from None
    customer_id = claims.subject if claims.role == "customer" else None
    state = store.request_state(claims.jti, claims.key_id, customer_id)
    _check_live(claims, state, int(time.time()))
    return context.Principal(role=claims.role, subject=claims.subject, key_id=claims.key_id, session_id=claims.jti)


def _check_live(claims: tokens.Claims, state: store.RequestState, now: int) -> None:
    session = state.session
    if (session is None or session.get("revoked") or session.get("expires_at", 0) <= now
            or session.get("key_id") != str(claims.key_id) or session.get("subject") != str(claims.subject)
            or session.get("role") != claims.role):
        raise errors.Unauthorized("Session is not valid")
    _check_markers(state, now, session.get("key_valid_until"))


def _check_markers(state: store.RequestState, now: int, key_valid_until: int | None) -> None:
    """401 when the key is revoked or past its end, 403 when the customer is suspended."""
    keystate = state.keystate or {}
    ends = [key_valid_until, keystate.get("valid_until")]
    if keystate.get("revoked") or any(end is not None and end <= now for end in ends):
        raise errors.Unauthorized("API key has been revoked or has expired")
    if state.customer is not None and state.customer.get("suspended"):
        raise errors.Forbidden("Customer account is suspended")
