"""Authentication: an API key in, a token pair out.

``authenticate`` on a cache hit is one ``GetItem`` on the verification cache
(none at all when this process holds the verification: see
``auth.verification_cache``), then one short database transaction that opens
the session and records its refresh token in PostgreSQL only if the key and
holder are still live (``auth_open_session3``, migration 0044), stamps
``last_used_at`` and writes the audit row; no bcrypt, no read of the hash, no
DynamoDB write. If PostgreSQL refuses, the token is not handed out and the
stale cache entry is deleted.

On a miss the key is looked up by its public id and its secret checked with
bcrypt, after the failed-attempt throttle (``auth.throttle``) has let the
caller's address through; a success fills the cache before PostgreSQL opens
the session (the cache's protocol).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from chalicelib.auth import (
    clock,
    key_format,
    repository,
    sessions,
    signing,
    throttle,
    verification_cache,
)
from chalicelib.auth.models import TokenResponse
from chalicelib.auth.verification_cache import VerifiedKey
from chalicelib.core import db, errors
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

# Expired rows of auth_sessions are purged in the background by ~1 in PURGE_EVERY authentications.
PURGE_EVERY = 100
PURGE_BATCH = 1000
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="auth-purge")


def authenticate(raw_key: str | None, *, client_address: str | None = None) -> TokenResponse:
    """Exchange an API key for a token pair (see the module docstring for the cost).

    ``client_address`` is the caller's address as API Gateway saw it (not a
    header a client can set): failed attempts are throttled per public id and
    address, so nobody else can lock a key's holder out.
    """
    parsed = key_format.parse(raw_key)
    if parsed is None or raw_key is None:
        logger.warning("authentication failed", extra={"reason": "malformed_key"})
        raise errors.Unauthorized("Invalid API key")
    at = clock.now()
    now = int(at)
    digest = key_format.cache_digest(signing.pepper(), raw_key.strip())
    scope = throttle.throttle_scope(parsed.public_id, client_address)
    hit = verification_cache.cached_verification(digest, now)
    if hit is not None and hit.public_id == parsed.public_id:
        return _open(parsed, hit, at=at, digest=digest, fill=False, scope=scope)
    return _verify_with_bcrypt(parsed, digest, at, scope)


def _verify_with_bcrypt(parsed: key_format.ParsedKey, digest: str, at: float, scope: str) -> TokenResponse:
    now = int(at)
    failures, retry_after = throttle.failures(scope, now)
    if failures >= throttle.MAX_FAILURES:
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
        raise _fail(parsed, "wrong_secret", now, scope=scope, key=stored)
    valid_until = _valid_until(stored)
    if valid_until is not None and valid_until <= now:
        raise _fail(parsed, "expired_or_revoked", now, scope=scope, key=stored)
    if not stored.holder_active:
        raise _fail(parsed, sessions.holder_inactive(stored.role), now, scope=scope, key=stored, count=False)
    verified = VerifiedKey(
        key_id=stored.key_id,
        role=stored.role,
        subject=stored.subject,
        public_id=parsed.public_id,
        valid_until=valid_until,
    )
    return _open(parsed, verified, at=at, digest=digest, fill=True, scope=scope)


def _epoch(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp())


def _valid_until(stored: repository.StoredKey) -> int | None:
    """When the key stops authenticating: its expiry or its (scheduled) revocation, whichever is first."""
    ends = [e for e in (_epoch(stored.expires_at), _epoch(stored.revoked_at)) if e is not None]
    return min(ends) if ends else None


def _open(
    parsed: key_format.ParsedKey, verified: VerifiedKey, *, at: float, digest: str, fill: bool, scope: str
) -> TokenResponse:
    """Open a session for ``verified`` (just checked with bcrypt when ``fill``, else from the cache)."""
    now = int(at)
    new, refresh_token = sessions.new_session(
        key_id=verified.key_id, subject=verified.subject, role=verified.role, now=now
    )
    if fill:
        # The entry and its marker are written before PostgreSQL is read (the cache's protocol).
        verification_cache.remember(digest, verified, now)
    detail = {"public_id": parsed.public_id, "session_id": new.jti, "cached": not fill}
    state = sessions.open_in_database(new, at, detail=detail)
    reason = sessions.refusal(verified.role, state)
    if reason is not None:
        # Revoked, expired or suspended since the entry was cached (or while we filled it):
        # nothing was recorded, and the stale entry goes.
        verification_cache.drop(digest)
        raise _fail(parsed, reason, now, scope=scope, key=verified, count=reason == "expired_or_revoked")
    if random.randrange(PURGE_EVERY) == 0:
        _background.submit(_purge_expired_sessions)
    return sessions.mint(new, refresh_token, now, state.tenant_role)


def _fail(
    parsed: key_format.ParsedKey,
    reason: str,
    now: int,
    *,
    scope: str,
    key: VerifiedKey | repository.StoredKey | None = None,
    count: bool = True,
) -> errors.DomainError:
    """Log and count a failed authentication, audit it when due (see below); return the error to raise.

    ``key``: the key the public id names, when there is one (its holder's chain gets the events).

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
    failures = throttle.record_failure(scope, now) if count else 0
    logger.warning("authentication failed", extra={"public_id": parsed.public_id, "reason": reason})
    actor = f"api_key:{parsed.public_id}"
    if key is not None and throttle.record_failure(f"audit#{parsed.public_id}", now) == 1:
        sessions.audit(
            key.role,
            key.subject,
            "auth.failed",
            key_id=key.key_id,
            actor=actor,
            detail={
                "public_id": parsed.public_id,
                "reason": reason,
                "window_seconds": throttle.FAILURE_WINDOW,
                "first_in_window": True,
            },
        )
    if failures == throttle.MAX_FAILURES:
        logger.warning("authentication locked out", extra={"public_id": parsed.public_id})
        if key is not None and throttle.record_failure(f"lockout#{parsed.public_id}", now) == 1:
            sessions.audit(
                key.role,
                key.subject,
                "auth.locked_out",
                key_id=key.key_id,
                actor=actor,
                detail={
                    "public_id": parsed.public_id,
                    "failures": throttle.MAX_FAILURES,
                    "window_seconds": throttle.FAILURE_WINDOW,
                    "first_in_window": True,
                },
            )
    if reason == "customer_suspended":
        return errors.Forbidden("Customer account is suspended")
    return errors.Unauthorized("Invalid API key")


def _purge_expired_sessions() -> None:
    try:
        with db.one_statement() as conn:
            repository.purge_sessions(conn, PURGE_BATCH)
    except Exception:  # noqa: BLE001 - best effort, in the background: never fails a request
        logger.exception("purging expired sessions failed")
