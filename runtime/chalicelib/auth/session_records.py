"""The record of sessions in DynamoDB: sessions, single-use refresh tokens and their families.

``sessions`` table (pk):
  ``session#<jti>``     one access token: key_id (the ``by_key`` index), subject, role,
                        family, revoked flag, key_valid_until; TTL = token expiry
  ``refresh#<sha256>``  one refresh token (stored hashed), single use
  ``family#<id>``       the chain of sessions refreshed from one authentication; the id is
                        the first session's jti and the item is only written at the first
                        refresh or revocation (a family without an item is that one session),
                        which keeps authentication to two items

(The table also holds the verification cache's ``keystate#`` markers:
``auth.verification_cache``.)

Per-request liveness is NOT read from here: the guard asks PostgreSQL (one
call to ``auth_request_state``, migration 0011), which reads the key, its
holder and the session's revocation directly. This table stays the record of
sessions and the home of refresh tokens and families.

When DynamoDB cannot serve (``auth.dynamodb``), PostgreSQL still decides
everything that matters, so this module degrades instead of failing:

* the session record is not written (``session_record_skipped``): the session
  itself is opened in PostgreSQL, which every request checks; its refresh
  token cannot be redeemed later (``401``: the client authenticates with its
  key again);
* revocation clean-ups (session and family flags) are skipped
  (``session_flag_skipped``, ``family_flag_skipped``, ``key_cleanup_skipped``):
  PostgreSQL refuses a revoked key's sessions anyway;
* a refresh cannot be checked for single use, so it is refused with ``503``
  (:func:`claim_refresh` raises), never accepted blindly.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.auth import dynamodb
from chalicelib.auth.dynamodb import n, plain, s
from chalicelib.core.context import Role

REFRESH_TTL = 7 * 24 * 3600


class SessionFamilyRevoked(Exception):
    pass


class RefreshReused(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("refresh token reused")
        self.item = item
        self.family: str = item["family"]


@dataclass(frozen=True, slots=True)
class NewSession:
    jti: str
    family: str
    key_id: uuid.UUID | None  # the API key; None for a person's session
    subject: uuid.UUID
    role: Role
    expires_at: int
    key_valid_until: int | None
    refresh_hash: str
    refresh_expires_at: int
    user_id: uuid.UUID | None = None  # the person (a login), with the session epoch their login read
    user_epoch: int | None = None
    amr: tuple[str, ...] = ("key",)

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.role.customer_id(self.subject)


def _session_items(new: NewSession) -> tuple[dict[str, Any], dict[str, Any]]:
    session = {
        "pk": s(f"session#{new.jti}"),
        "subject": s(new.subject),
        "role": s(new.role),
        "family": s(new.family),
        "expires_at": n(new.expires_at),
        "amr": s(" ".join(new.amr)),  # how the session was authenticated, e.g. "pwd otp"
    }
    if new.key_id is not None:
        session["key_id"] = s(new.key_id)  # the by_key index (a person's sessions are not in it)
    if new.user_id is not None and new.user_epoch is not None:
        session |= {"user_id": s(new.user_id), "user_epoch": n(new.user_epoch)}
    if new.customer_id is not None:
        session["customer_id"] = s(new.customer_id)
    if new.key_valid_until is not None:
        session["key_valid_until"] = n(new.key_valid_until)
    # The refresh token outlives its access token, so it carries what a refresh needs itself.
    refresh = {key: value for key, value in session.items() if key not in ("pk", "expires_at")}
    refresh |= {
        "pk": s(f"refresh#{new.refresh_hash}"),
        "jti": s(new.jti),
        "expires_at": n(new.refresh_expires_at),
        # When it was issued, to the millisecond: a suspension ends the refresh tokens issued before it.
        "issued_at_ms": n(int(time.time() * 1000)),
    }
    if new.key_id is not None:
        refresh.pop("key_id")  # keeps refresh tokens out of the by_key index
        refresh["token_key_id"] = s(new.key_id)
    return session, refresh


def _write_all(items: list[dict[str, Any]]) -> None:
    """Unconditional puts in one ``BatchWriteItem`` (retrying anything unprocessed)."""
    request: dict[str, Any] = {dynamodb.sessions_table(): [{"PutRequest": {"Item": item}} for item in items]}
    for _ in range(5):
        request = dynamodb.client().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return
    raise RuntimeError("sessions table did not accept the batch write")


@dynamodb.degrades_to("session_record_skipped", lambda: None)
def write_session(new: NewSession) -> None:
    """Record a new session and its refresh token (its family item comes with the first refresh).

    No transactions: DynamoDB transactions cost more and moto copies every table for each one.
    """
    _write_all(list(_session_items(new)))


def claim_refresh(refresh_hash: str, now: int) -> dict[str, Any] | None:
    """Mark a refresh token used and return it (``key_id`` restored); ``None`` when unknown or expired.

    Raises :class:`RefreshReused` when it had been used before.
    """
    try:
        result = dynamodb.client().update_item(
            TableName=dynamodb.sessions_table(),
            Key={"pk": s(f"refresh#{refresh_hash}")},
            UpdateExpression="SET used = :true",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used) AND expires_at > :now",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":now": n(now)},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        existing = dynamodb.consistent_get(dynamodb.sessions_table(), f"refresh#{refresh_hash}")
        if existing is not None and existing.get("used"):
            raise RefreshReused(existing) from exc
        return None
    claimed = plain(result["Attributes"]) or {}
    claimed["key_id"] = claimed.pop("token_key_id", None)
    return claimed


def refresh_issued_at(claimed: dict[str, Any]) -> float:
    """When a claimed refresh token was issued (epoch seconds).

    Items written before ``issued_at_ms`` existed: their expiry is REFRESH_TTL after issue (to the second).
    """
    if "issued_at_ms" in claimed:
        return float(claimed["issued_at_ms"]) / 1000
    return float(claimed["expires_at"] - REFRESH_TTL)


@dynamodb.degrades_to("session_record_unread", lambda: None)
def get_session(jti: str) -> dict[str, Any] | None:
    return dynamodb.consistent_get(dynamodb.sessions_table(), f"session#{jti}")


def rotate_session(old_jti: str, new: NewSession) -> None:
    """Refresh: write the new session, join it to the family (unless revoked), revoke the old one.

    The session is written before it joins the family, so a concurrent family
    revocation either refuses the join (we revoke our new row) or lists it.
    """
    _write_all(list(_session_items(new)))
    try:
        dynamodb.client().update_item(
            TableName=dynamodb.sessions_table(),
            Key={"pk": s(f"family#{new.family}")},
            UpdateExpression="ADD jtis :jtis SET expires_at = :ttl",
            ConditionExpression="attribute_not_exists(revoked)",
            # The family's first session (its id) is listed with the newcomer: the item may not exist yet.
            ExpressionAttributeValues={
                ":jtis": {"SS": sorted({new.family, new.jti})},
                ":ttl": n(new.refresh_expires_at),
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        _revoke_session_row(new.jti)
        raise SessionFamilyRevoked() from exc
    _revoke_session_row(old_jti)


@dynamodb.degrades_to("family_flag_skipped", set)
def revoke_family(family: str) -> set[str]:
    """Revoke every session ever refreshed within ``family``, refuse further refreshes; return their jtis."""
    result = dynamodb.client().update_item(
        TableName=dynamodb.sessions_table(),
        Key={"pk": s(f"family#{family}")},
        # Creates the item when the family was never refreshed: it is then just its first session.
        UpdateExpression="SET revoked = :true, expires_at = if_not_exists(expires_at, :ttl) ADD jtis :first",
        ExpressionAttributeValues={
            ":true": {"BOOL": True},
            ":first": {"SS": [family]},
            ":ttl": n(int(time.time()) + REFRESH_TTL),
        },
        ReturnValues="ALL_NEW",
    )
    attributes = plain(result["Attributes"]) or {}
    jtis: set[str] = attributes.get("jtis", set())
    for jti in jtis:
        _revoke_session_row(jti)
    return jtis


def revoke_session(jti: str, family: str | None) -> set[str]:
    """Revoke one session and its family; return every jti revoked."""
    _revoke_session_row(jti)
    return {jti} | (revoke_family(family) if family else set())


@dynamodb.degrades_to("key_cleanup_skipped", lambda: None)
def revoke_key_sessions(key_id: uuid.UUID) -> None:
    """Flag every session record of a revoked key (the guard reads PostgreSQL; this keeps the record true)."""
    paginator = dynamodb.client().get_paginator("query")
    for page in paginator.paginate(
        TableName=dynamodb.sessions_table(),
        IndexName="by_key",
        KeyConditionExpression="key_id = :k",
        ExpressionAttributeValues={":k": s(key_id)},
        ProjectionExpression="pk",
    ):
        for item in page["Items"]:
            _revoke_session_row(item["pk"]["S"].removeprefix("session#"))


@dynamodb.degrades_to("session_flag_skipped", lambda: None)
def _revoke_session_row(jti: str) -> None:
    try:
        dynamodb.client().update_item(
            TableName=dynamodb.sessions_table(),
            Key={"pk": s(f"session#{jti}")},
            UpdateExpression="SET revoked = :true",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
