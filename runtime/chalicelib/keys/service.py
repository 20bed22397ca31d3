"""API key rules: create (shown once), list, revoke immediately, rotate with an overlap.

Every database step runs in ``tenant_transaction``; another tenant's key is
simply not there (404). Revocation takes effect when ``revoked_at`` commits:
the guard and every authentication read it in PostgreSQL. Only after the
commit is the key's cache entry deleted from DynamoDB
(``auth.revocation.after_keys_changed``).

The tier's ``max_api_keys`` bounds the *live* keys, and a rotated key still in
its overlap is live: creating and rotating take the tenant's key lock
(``repository.lock_tenant_keys``) before counting, so concurrent requests
cannot all pass the same count, and a rotation with an overlap needs a free
slot like a create (with ``overlap_seconds`` 0 the old key dies at once and
the count does not change). The bcrypt hash is computed before the lock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from chalicelib.audit import recorder
from chalicelib.auth import key_format, permissions
from chalicelib.auth.revocation import after_keys_changed
from chalicelib.catalog import repository as catalog
from chalicelib.catalog.features import MAX_API_KEYS
from chalicelib.core import db, errors
from chalicelib.core.context import TenantRole
from chalicelib.core.db import Connection
from chalicelib.core.pagination import keyset_page
from chalicelib.core.settings import get_settings
from chalicelib.keys import repository
from chalicelib.keys.models import ApiKeyPage, ApiKeyResponse, CreateKeyBody, KeyListQuery, NewApiKeyResponse
from chalicelib.webhooks import events as webhooks


def new_key() -> key_format.NewKey:
    """A fresh customer key of this stage's prefix and its bcrypt hash (slow on purpose: call it outside any lock)."""
    settings = get_settings()
    return key_format.generate(key_format.customer_prefix(settings.stage), cost=settings.bcrypt_cost)


def issue_key(
    conn: Connection,
    *,
    customer_id: uuid.UUID,
    name: str,
    expires_at: datetime | None,
    role: TenantRole,
    rotated_from: uuid.UUID | None = None,
    new: key_format.NewKey | None = None,
) -> NewApiKeyResponse:
    """Insert a new key acting as ``role`` on ``conn`` (tenant or onboarding transaction); audit it; return it
    with the full key."""
    new = new or new_key()
    row = repository.insert(
        conn,
        customer_id=customer_id,
        name=name,
        prefix=new.prefix,
        public_id=new.public_id,
        secret_hash=new.secret_hash,
        expires_at=expires_at,
        rotated_from=rotated_from,
        role=role,
    )
    recorder.record(
        conn,
        customer_id=customer_id,
        action="api_key.created",
        target_type="api_key",
        target_id=row["id"],
        detail={
            "name": name,
            "public_id": new.public_id,
            "role": role,
            "rotated_from": str(rotated_from) if rotated_from else None,
        },
    )
    return NewApiKeyResponse.model_validate({**row, "key": new.key})


def _check_grant(caller: TenantRole | None, role: str, action: str) -> None:
    """A credential manages only keys whose role is not above its own (``permissions.may_grant``): else 403.

    Creating a key above one's role, or rotating one (the new key keeps the
    old one's role), would be an escalation; revoking one would let a
    developer cut off the owner's integration.
    """
    if caller is None or not permissions.may_grant(caller, TenantRole(role)):
        raise errors.Forbidden(f"Your role ({caller or 'none'}) may not {action} a key with the role {role}")


def create(customer_id: uuid.UUID, body: CreateKeyBody, caller: TenantRole | None) -> NewApiKeyResponse:
    _check_grant(caller, body.role, "create")
    expires_at = key_format.future_expiry(body.expires_at, now=datetime.now(UTC))
    new = new_key()
    with db.tenant_transaction(customer_id) as conn:
        _claim_slot(conn, customer_id)
        created = issue_key(
            conn, customer_id=customer_id, name=body.name, expires_at=expires_at, role=body.role, new=new
        )
        event = _key_event(conn, customer_id, webhooks.API_KEY_CREATED, created)
    webhooks.send_soon([event], customer_id=customer_id)
    return created


def _key_event(conn: Connection, customer_id: uuid.UUID, event_type: str, key: ApiKeyResponse) -> uuid.UUID | None:
    """The tenant's webhook event for a key change, in its transaction: the key as the API shows it (never
    the key itself). Nothing is stored when no endpoint subscribes."""
    # Only ApiKeyResponse's fields: a NewApiKeyResponse carries the full key, which never leaves its answer.
    data = key.model_dump(mode="json", include=set(ApiKeyResponse.model_fields))
    return webhooks.emit(conn, customer_id=customer_id, event_type=event_type, data=data)


def _claim_slot(conn: Connection, customer_id: uuid.UUID, *, freed: int = 0) -> None:
    """Take the tenant's key lock, then refuse (409) when one more live key would pass the tier's limit.

    ``freed``: live keys this same change ends now (a rotation without overlap).
    Keys in a rotation's overlap are live and count.
    """
    repository.lock_tenant_keys(conn, customer_id)
    tier = catalog.tier_of_customer(conn, customer_id)
    limit = None if tier is None else catalog.features(conn, tier).limit(MAX_API_KEYS)
    if limit is not None and repository.count_live(conn) - freed >= limit:
        raise errors.Conflict(
            f"Your tier allows {limit} live API keys (keys in a rotation's overlap count);"
            " revoke one first, or rotate with overlap_seconds 0"
        )


def list_keys(customer_id: uuid.UUID, query: KeyListQuery) -> ApiKeyPage:
    """The tenant's keys, newest first, revoked and expired ones included."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return ApiKeyPage(items=[ApiKeyResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def revoke(customer_id: uuid.UUID, key_id: uuid.UUID, caller: TenantRole | None) -> None:
    """Revoke now: the key and every token minted from it fail on their next use, in every process."""
    now = datetime.now(UTC)
    with db.tenant_transaction(customer_id) as conn:
        row = repository.get(conn, key_id, for_update=True)
        if row is None:
            raise errors.NotFound("API key not found")
        _check_grant(caller, row["role"], "revoke")
        if row["revoked_at"] is not None and row["revoked_at"] <= now:
            return  # already revoked: idempotent
        revoked = repository.revoke(conn, key_id, now)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="api_key.revoked",
            target_type="api_key",
            target_id=key_id,
            detail={"public_id": row["public_id"]},
        )
        event = _key_event(conn, customer_id, webhooks.API_KEY_REVOKED, ApiKeyResponse.model_validate(revoked or row))
    after_keys_changed([key_id])
    webhooks.send_soon([event], customer_id=customer_id)


def rotate(
    customer_id: uuid.UUID, key_id: uuid.UUID, overlap_seconds: int, caller: TenantRole | None
) -> NewApiKeyResponse:
    """A new key now; the old one keeps working for ``overlap_seconds``, then is revoked."""
    now = datetime.now(UTC)
    ends = now + timedelta(seconds=overlap_seconds)
    new = new_key()
    with db.tenant_transaction(customer_id) as conn:
        old = repository.get(conn, key_id, for_update=True)
        if old is None:
            raise errors.NotFound("API key not found")
        _check_grant(caller, old["role"], "rotate")
        if old["revoked_at"] is not None and old["revoked_at"] <= now:
            raise errors.Conflict("A revoked key cannot be rotated")
        if old["expires_at"] is not None and old["expires_at"] <= now:
            raise errors.Conflict("An expired key cannot be rotated")
        _claim_slot(conn, customer_id, freed=1 if overlap_seconds == 0 else 0)
        created = issue_key(
            conn,
            customer_id=customer_id,
            name=old["name"],
            expires_at=None,
            role=TenantRole(old["role"]),
            rotated_from=key_id,
            new=new,
        )
        old_revoked = repository.revoke(conn, key_id, ends)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="api_key.rotated",
            target_type="api_key",
            target_id=key_id,
            detail={
                "public_id": old["public_id"],
                "new_key_id": str(created.id),
                "overlap_seconds": overlap_seconds,
                "old_key_revoked_at": ends.isoformat(),
            },
        )
        # The old key's revocation is announced now, with the moment it takes effect (its revoked_at).
        events = [
            _key_event(conn, customer_id, webhooks.API_KEY_CREATED, created),
            _key_event(conn, customer_id, webhooks.API_KEY_REVOKED, ApiKeyResponse.model_validate(old_revoked or old)),
        ]
    # Without overlap the old key is dead now; with one, its cache entry lacks the overlap's end
    # and goes, so the next authentication re-verifies.
    after_keys_changed([key_id])
    webhooks.send_soon(events, customer_id=customer_id)
    return created
