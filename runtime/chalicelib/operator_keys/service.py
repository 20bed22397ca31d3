"""Operator key rules: create (shown once, optionally expiring), list, revoke immediately.

Every database step runs in ``operator_transaction``; the keys and their audit
events belong to the platform's chain (``customer_id`` None). Like a customer
key's, a revocation takes effect when ``revoked_at`` commits: authentication
and the per-request guard (``auth_operator_session_state``) read it in PostgreSQL, so
the key and every token already minted from it are refused on their next use,
in every process. Only after the commit are the key's verification-cache
entries deleted (``auth.revocation.after_keys_changed``). An expiry is read
the same way: from ``expires_at`` on, the key cannot authenticate and its
tokens are refused.

Any operator may list and revoke any operator key, its own current one
included (``204``; its next request is ``401``). A platform left without a
live key gets a new one the way the first was made (README, "The first
operator key").
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth import key_format
from chalicelib.auth.revocation import after_keys_changed
from chalicelib.core import db, errors
from chalicelib.core.db import Connection
from chalicelib.core.pagination import keyset_page
from chalicelib.core.settings import get_settings
from chalicelib.operator_keys import repository
from chalicelib.operator_keys.models import (
    CreateOperatorKeyBody,
    NewOperatorKeyResponse,
    OperatorKeyListQuery,
    OperatorKeyPage,
    OperatorKeyResponse,
)

TARGET_TYPE = "operator_api_key"


def new_key() -> key_format.NewKey:
    """A fresh ``op_`` key and its bcrypt hash (slow on purpose: call it outside any transaction)."""
    return key_format.generate(key_format.OPERATOR_PREFIX, cost=get_settings().bcrypt_cost)


def issue_key(
    conn: Connection,
    *,
    operator_id: uuid.UUID,
    name: str,
    expires_at: datetime | None,
    new: key_format.NewKey,
    actor: str | None = None,
) -> NewOperatorKeyResponse:
    """Insert ``new`` for ``operator_id`` on ``conn``; audit it; return it with the full key (shown once)."""
    row = repository.insert(
        conn,
        operator_id=operator_id,
        name=name,
        public_id=new.public_id,
        secret_hash=new.secret_hash,
        expires_at=expires_at,
    )
    created = NewOperatorKeyResponse.model_validate({**row, "key": new.key})
    recorder.record(
        conn,
        customer_id=None,
        action="operator_key.created",
        target_type=TARGET_TYPE,
        target_id=row["id"],
        actor=actor,
        detail={
            "operator_id": str(operator_id),
            "public_id": new.public_id,
            "name": name,
            "expires_at": created.model_dump(mode="json")["expires_at"],
        },
    )
    return created


def create(operator_id: uuid.UUID, body: CreateOperatorKeyBody) -> NewOperatorKeyResponse:
    """A new key for the calling operator."""
    expires_at = key_format.future_expiry(body.expires_at, now=datetime.now(UTC))
    new = new_key()
    with db.operator_transaction() as conn:
        return issue_key(conn, operator_id=operator_id, name=body.name, expires_at=expires_at, new=new)


def list_keys(query: OperatorKeyListQuery) -> OperatorKeyPage:
    """Every operator's keys, newest first, revoked and expired ones included (never a hash)."""
    with db.operator_transaction() as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return OperatorKeyPage(items=[OperatorKeyResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def revoke(key_id: uuid.UUID) -> None:
    """Revoke now: the key and every token minted from it fail on their next use, in every process."""
    now = datetime.now(UTC)
    with db.operator_transaction() as conn:
        row = repository.get_for_update(conn, key_id)
        if row is None:
            raise errors.NotFound("Operator key not found")
        if row["revoked_at"] is not None and row["revoked_at"] <= now:
            return  # already revoked: idempotent
        _revoke(conn, row, now)
    after_keys_changed([key_id])


def revoke_named(
    conn: Connection, *, operator_id: uuid.UUID, name: str, reason: str, actor: str | None = None
) -> list[uuid.UUID]:
    """Revoke, on ``conn``, the live keys ``operator_id`` holds under ``name``; return their ids.

    Once ``conn``'s transaction has committed, the caller passes them to
    ``auth.revocation.after_keys_changed``.
    """
    now = datetime.now(UTC)
    rows = repository.live_named_for_update(conn, operator_id=operator_id, name=name, at=now)
    for row in rows:
        _revoke(conn, row, now, reason=reason, actor=actor)
    return [row["id"] for row in rows]


def _revoke(
    conn: Connection, row: dict[str, Any], now: datetime, *, reason: str | None = None, actor: str | None = None
) -> None:
    repository.revoke(conn, row["id"], now)
    detail = {"operator_id": str(row["operator_id"]), "public_id": row["public_id"]}
    if reason is not None:
        detail["reason"] = reason
    recorder.record(
        conn,
        customer_id=None,
        action="operator_key.revoked",
        target_type=TARGET_TYPE,
        target_id=row["id"],
        detail=detail,
        actor=actor,
    )
