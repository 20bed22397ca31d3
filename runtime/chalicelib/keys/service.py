"""API key rules: create (shown once), list, revoke immediately, rotate with an overlap.

Every database step runs in ``tenant_transaction``; another tenant's key is
simply not there (404). Revocation takes effect when ``revoked_at`` commits:
the guard and every authentication read it in PostgreSQL. Only after the
commit is the key's cache entry deleted and its session records flagged in
DynamoDB (the order the cache protocol in ``auth.store`` relies on).
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from chalicelib.audit import recorder
from chalicelib.auth import keys, store
from chalicelib.core import db, errors
from chalicelib.core.pagination import decode_keyset, encode_keyset
from chalicelib.core.settings import get_settings
from chalicelib.keys import repository
from chalicelib.keys.models import CreateKeyBody, KeyListQuery, present



def customer_prefix() -> str:
    """``sk_live_`` in production, ``sk_test_`` everywhere else."""
    return "sk_live_" if get_settings().stage in ("prod", "production") else "sk_test_"


def issue_key(conn: psycopg.Connection, *, customer_id: uuid.UUID, name: str, expires_at: datetime | None,
              rotated_from: uuid.UUID | None = None) -> dict:
    """Insert a new key on ``conn`` (tenant or onboarding transaction); audit it; return it with the full key."""
    new = keys.generate(customer_prefix(), cost=get_settings().bcrypt_cost)
    row = repository.insert(conn, customer_id=customer_id, name=name, prefix=new.prefix, public_id=new.public_id,
                            secret_hash=new.secret_hash, expires_at=expires_at, rotated_from=rotated_from)
    recorder.record(conn, customer_id=customer_id, action="api_key.created", target_type="api_key",
                    target_id=row["id"], detail={"name": name, "public_id": new.public_id,
                                                 "rotated_from": str(rotated_from) if rotated_from else None})
    return present(row, key=new.key)


def create(customer_id: uuid.UUID, body: CreateKeyBody) -> dict:
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise errors.Unprocessable("expires_at must be in the future")
    with db.tenant_transaction(customer_id) as conn:
        limit = repository.max_live_keys(conn)
        if limit is not None and repository.count_live(conn) >= limit:
            raise errors.Conflict(f"Your tier allows {limit} live API keys; revoke one first")
        return issue_key(conn, customer_id=customer_id, name=body.name, expires_at=body.expires_at)


def list_keys(customer_id: uuid.UUID, query: KeyListQuery) -> dict:
    after = decode_keyset(query.cursor)
    with db.tenant_transaction(customer_id) as conn:
        rows = repository.list_page(conn, limit=query.limit + 1, after=after)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = encode_keyset(rows[-1]["created_at"], rows[-1]["id"]) if more else None
    return {"items": [present(row) for row in rows], "next_cursor": cursor}


def revoke(customer_id: uuid.UUID, key_id: uuid.UUID) -> None:
    """Revoke now: the key and every token minted from it fail on their next use, in every process."""
    now = datetime.now(UTC)
    with db.tenant_transaction(customer_id) as conn:
        row = repository.get(conn, key_id, for_update=True)
        if row is None:
            raise errors.NotFound("API key not found")
        if row["revoked_at"] is not None and row["revoked_at"] <= now:
            return  # already revoked: idempotent
        repository.revoke(conn, key_id, now)
        recorder.record(conn, customer_id=customer_id, action="api_key.revoked", target_type="api_key",
                        target_id=key_id, detail={"public_id": row["public_id"]})
    store.revoke_key(key_id)


def rotate(customer_id: uuid.UUID, key_id: uuid.UUID, overlap_seconds: int) -> dict:
    """A new key now; the old one keeps working for ``overlap_seconds``, then is revoked."""
    now = datetime.now(UTC)
    ends = now + timedelta(seconds=overlap_seconds)
    with db.tenant_transaction(customer_id) as conn:
        old = repository.get(conn, key_id, for_update=True)
        if old is None:
            raise errors.NotFound("API key not found")
        if old["revoked_at"] is not None and old["revoked_at"] <= now:
            raise errors.Conflict("A revoked key cannot be rotated")
        if old["expires_at"] is not None and old["expires_at"] <= now:
            raise errors.Conflict("An expired key cannot be rotated")
        created = issue_key(conn, customer_id=customer_id, name=old["name"], expires_at=None, rotated_from=key_id)
        repository.revoke(conn, key_id, ends)
        recorder.record(conn, customer_id=customer_id, action="api_key.rotated", target_type="api_key",
                        target_id=key_id, detail={"public_id": old["public_id"], "new_key_id": created["id"],
                                                  "overlap_seconds": overlap_seconds,
                                                  "old_key_revoked_at": ends.isoformat()})
    if overlap_seconds == 0:
        store.revoke_key(key_id)
    else:
        # The entry was cached without the overlap's end; the next authentication re-verifies.
        store.forget_cached_verifications([key_id])
    return created
