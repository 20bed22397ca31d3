"""Authentication state in DynamoDB: the verification cache, sessions and revocation markers.

``cache`` table (pk):
  ``apikey#<HMAC(pepper, key)>``  a successful verification, 4 h (never a failure)
  ``authfail#<public id>#<window>`` failed attempts against one public id

``sessions`` table (pk):
  ``session#<jti>``     one access token: key_id (the ``by_key`` index), subject, role,
                        family, revoked flag, key_valid_until; TTL = token expiry
  ``refresh#<sha256>``  one refresh token (stored hashed), single use
  ``family#<id>``       the chain of sessions refreshed from one authentication
  ``keystate#<key id>`` revocation marker / overlap end of one API key, and where
                        its cache entry is (so revocation can delete it)
  ``customer#<id>``     ``suspended`` flag

Per request the guard reads ``session``, ``keystate`` and ``customer`` in one
strongly consistent ``BatchGetItem``: revoking a key or suspending a customer
writes one item and takes effect on the next request in every process.
Cache fills are ordered against revocation and suspension so that a cache
entry only exists for a live key of an active customer (see ``open_session``).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core import aws
from chalicelib.core.settings import get_settings

CACHE_TTL = 4 * 3600
REFRESH_TTL = 7 * 24 * 3600
# Longer than any token or refresh token minted before the revocation can live.
MARKER_TTL = 30 * 24 * 3600
FAILURE_WINDOW = 300


class KeyNotLive(Exception):
    """The key was revoked or its overlap ended while we were opening a session."""


class CustomerSuspended(Exception):
    pass


class SessionFamilyRevoked(Exception):
    pass


@dataclass(frozen=True, slots=True)
class CachedVerification:
    key_id: uuid.UUID
    role: str
    subject: uuid.UUID
    public_id: str
    valid_until: int | None  # the key's own expiry / overlap end, epoch seconds


@dataclass(frozen=True, slots=True)
class NewSession:
    jti: str
    family: str
    key_id: uuid.UUID
    subject: uuid.UUID
    role: str
    expires_at: int
    key_valid_until: int | None
    refresh_hash: str
    refresh_expires_at: int


@dataclass(frozen=True, slots=True)
class RequestState:
    session: dict[str, Any] | None
    keystate: dict[str, Any] | None
    customer: dict[str, Any] | None


# ---------------------------------------------------------------- attribute helpers
def _s(value: Any) -> dict[str, str]:
    return {"S": str(value)}


def _n(value: int) -> dict[str, str]:
    return {"N": str(int(value))}


def _plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    out: dict[str, Any] = {}
    for name, typed in item.items():
        (kind, value), = typed.items()
        if kind == "N":
            out[name] = int(value)
        elif kind == "SS":
            out[name] = set(value)
        else:
            out[name] = value
    return out


def _tables() -> tuple[str, str]:
    settings = get_settings()
    return settings.cache_table, settings.sessions_table


def _ddb() -> Any:
    return aws.client("dynamodb")


_KEY_LIVE = "attribute_not_exists(revoked) AND (attribute_not_exists(valid_until) OR valid_until > :now)"


# ---------------------------------------------------------------- verification cache
def cached_verification(digest: str, now: int) -> CachedVerification | None:
    cache_table, _ = _tables()
    item = _plain(_ddb().get_item(TableName=cache_table, Key={"pk": _s(f"apikey#{digest}")},
                                  ConsistentRead=True).get("Item"))
    # TTL deletion is lazy: an item past its expiry may still be returned.
    if item is None or item.get("expires_at", 0) <= now:
        return None
    valid_until = item.get("valid_until")
    if valid_until is not None and valid_until <= now:
        return None
    return CachedVerification(key_id=uuid.UUID(item["key_id"]), role=item["role"], subject=uuid.UUID(item["subject"]),
                              public_id=item["public_id"], valid_until=valid_until)


def failures(public_id: str, now: int) -> tuple[int, int]:
    """Failed attempts against ``public_id`` in the current window, and seconds until it ends."""
    cache_table, _ = _tables()
    window = now - now % FAILURE_WINDOW
    item = _ddb().get_item(TableName=cache_table, Key={"pk": _s(f"authfail#{public_id}#{window}")},
                           ConsistentRead=True).get("Item")
    count = int(item["count"]["N"]) if item else 0
    return count, window + FAILURE_WINDOW - now


def record_failure(public_id: str, now: int) -> int:
    cache_table, _ = _tables()
    window = now - now % FAILURE_WINDOW
    result = _ddb().update_item(
        TableName=cache_table, Key={"pk": _s(f"authfail#{public_id}#{window}")},
        UpdateExpression="ADD #c :one SET expires_at = :ttl",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": _n(1), ":ttl": _n(window + 2 * FAILURE_WINDOW)},
        ReturnValues="UPDATED_NEW",
    )
    return int(result["Attributes"]["count"]["N"])


# ---------------------------------------------------------------- sessions
def _session_items(new: NewSession, customer_id: uuid.UUID | None) -> tuple[dict[str, Any], dict[str, Any]]:
    _, sessions_table = _tables()
    session = {
        "pk": _s(f"session#{new.jti}"), "key_id": _s(new.key_id), "subject": _s(new.subject), "role": _s(new.role),
        "family": _s(new.family), "expires_at": _n(new.expires_at),
    }
    if customer_id is not None:
        session["customer_id"] = _s(customer_id)
    if new.key_valid_until is not None:
        session["key_valid_until"] = _n(new.key_valid_until)
    # The refresh token outlives its access token, so it carries what a refresh needs itself.
    refresh = {key: value for key, value in session.items() if key not in ("pk", "expires_at")}
    refresh |= {"pk": _s(f"refresh#{new.refresh_hash}"), "jti": _s(new.jti), "expires_at": _n(new.refresh_expires_at)}
    refresh.pop("key_id")  # keeps refresh tokens out of the by_key index
    refresh["token_key_id"] = _s(new.key_id)
    return session, refresh


def _write_all(items: list[dict[str, Any]]) -> None:
    """Unconditional puts in one ``BatchWriteItem`` (retrying anything unprocessed)."""
    _, sessions_table = _tables()
    request: dict[str, Any] = {sessions_table: [{"PutRequest": {"Item": item}} for item in items]}
    for _ in range(5):
        request = _ddb().batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return
    raise RuntimeError("sessions table did not accept the batch write")


def _consistent_get(table: str, pk: str) -> dict[str, Any] | None:
    return _plain(_ddb().get_item(TableName=table, Key={"pk": _s(pk)}, ConsistentRead=True).get("Item"))


def open_session(new: NewSession, *, customer_id: uuid.UUID | None, now: int, cache_digest: str | None = None,
                 cache_entry: CachedVerification | None = None) -> None:
    """Write a session, its refresh token and its family; with ``cache_entry``, fill the cache first.

    No transactions (DynamoDB transactions cost more and moto copies every table
    for each one). Correctness comes from ordering on single items, all read
    strongly consistently:

    * fill: put the entry, then record it on the key's marker *if the key is
      live*, then read the customer's flag. A revocation sets the marker and
      then deletes whatever entry the marker names; a suspension sets the flag
      and then deletes the entries named by the customer's key markers. In
      every interleaving either we see their write and delete our entry, or
      they see ours and delete it. A cache entry therefore only exists for a
      live key of an active customer.
    * session: written without conditions; the guard checks the key marker and
      the customer flag on every request anyway, so a session that races a
      revocation is refused on its first use.
    """
    cache_table, sessions_table = _tables()
    if cache_entry is not None and cache_digest is not None:
        entry_pk = f"apikey#{cache_digest}"
        entry = {
            "pk": _s(entry_pk), "key_id": _s(cache_entry.key_id), "role": _s(cache_entry.role),
            "subject": _s(cache_entry.subject), "public_id": _s(cache_entry.public_id),
            "expires_at": _n(min(now + CACHE_TTL, cache_entry.valid_until or now + CACHE_TTL)),
        }
        if cache_entry.valid_until is not None:
            entry["valid_until"] = _n(cache_entry.valid_until)
        _ddb().put_item(TableName=cache_table, Item=entry)
        try:
            _ddb().update_item(
                TableName=sessions_table, Key={"pk": _s(f"keystate#{new.key_id}")},
                UpdateExpression="SET cache_pk = :cache_pk, expires_at = :ttl", ConditionExpression=_KEY_LIVE,
                ExpressionAttributeValues={":now": _n(now), ":cache_pk": _s(entry_pk), ":ttl": _n(now + MARKER_TTL)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            _ddb().delete_item(TableName=cache_table, Key={"pk": _s(entry_pk)})
            raise KeyNotLive() from exc
        flag = _consistent_get(sessions_table, f"customer#{customer_id}") if customer_id else None
        if flag is not None and flag.get("suspended"):
            _ddb().delete_item(TableName=cache_table, Key={"pk": _s(entry_pk)})
            raise CustomerSuspended()
    session, refresh = _session_items(new, customer_id)
    family = {"pk": _s(f"family#{new.family}"), "jtis": {"SS": [new.jti]}, "expires_at": _n(new.refresh_expires_at)}
    _write_all([session, refresh, family])


def request_state(jti: str, key_id: uuid.UUID, customer_id: uuid.UUID | None) -> RequestState:
    """The session, its key's marker and its customer's flag, in one strongly consistent read."""
    _, sessions_table = _tables()
    keys = [{"pk": _s(f"session#{jti}")}, {"pk": _s(f"keystate#{key_id}")}]
    if customer_id is not None:
        keys.append({"pk": _s(f"customer#{customer_id}")})
    request: dict[str, Any] = {sessions_table: {"Keys": keys, "ConsistentRead": True}}
    found: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        response = _ddb().batch_get_item(RequestItems=request)
        for item in response["Responses"].get(sessions_table, []):
            plain = _plain(item)
            found[plain["pk"]] = plain
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        raise RuntimeError("sessions table did not answer the batch read")
    return RequestState(session=found.get(f"session#{jti}"), keystate=found.get(f"keystate#{key_id}"),
                        customer=found.get(f"customer#{customer_id}") if customer_id else None)


def claim_refresh(refresh_hash: str, now: int) -> dict[str, Any] | None:
    """Mark a refresh token used and return it (``key_id`` restored); ``None`` when unknown or expired.

    Raises :class:`RefreshReused` when it had been used before.
    """
    _, sessions_table = _tables()
    try:
        result = _ddb().update_item(
            TableName=sessions_table, Key={"pk": _s(f"refresh#{refresh_hash}")},
            UpdateExpression="SET used = :true",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used) AND expires_at > :now",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":now": _n(now)},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        existing = _plain(_ddb().get_item(TableName=sessions_table, Key={"pk": _s(f"refresh#{refresh_hash}")},
                                          ConsistentRead=True).get("Item"))
        if existing is not None and existing.get("used"):
            raise RefreshReused(existing) from exc
        return None
    claimed = _plain(result["Attributes"])
    claimed["key_id"] = claimed.pop("token_key_id")
    return claimed


class RefreshReused(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("refresh token reused")
        self.item = item
        self.family: str = item["family"]


def get_session(jti: str) -> dict[str, Any] | None:
    _, sessions_table = _tables()
    return _plain(_ddb().get_item(TableName=sessions_table, Key={"pk": _s(f"session#{jti}")},
                                  ConsistentRead=True).get("Item"))


def rotate_session(old_jti: str, new: NewSession, *, customer_id: uuid.UUID | None) -> None:
    """Refresh: write the new session, join it to the family (unless revoked), revoke the old one.

    The session is written before it joins the family, so a concurrent family
    revocation either refuses the join (we revoke our new row) or lists it.
    """
    session, refresh = _session_items(new, customer_id)
    _write_all([session, refresh])
    _, sessions_table = _tables()
    try:
        _ddb().update_item(
            TableName=sessions_table, Key={"pk": _s(f"family#{new.family}")},
            UpdateExpression="ADD jtis :jti SET expires_at = :ttl",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(revoked)",
            ExpressionAttributeValues={":jti": {"SS": [new.jti]}, ":ttl": _n(new.refresh_expires_at)},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        _revoke_session_row(new.jti)
        raise SessionFamilyRevoked() from exc
    _revoke_session_row(old_jti)


def revoke_family(family: str) -> None:
    """Revoke every session ever refreshed within ``family`` and refuse further refreshes."""
    _, sessions_table = _tables()
    result = _ddb().update_item(
        TableName=sessions_table, Key={"pk": _s(f"family#{family}")},
        UpdateExpression="SET revoked = :true", ExpressionAttributeValues={":true": {"BOOL": True}},
        ReturnValues="ALL_NEW",
    )
    for jti in _plain(result["Attributes"]).get("jtis", set()):
        _revoke_session_row(jti)


def revoke_session(jti: str, family: str | None) -> None:
    _revoke_session_row(jti)
    if family:
        revoke_family(family)


def _revoke_session_row(jti: str) -> None:
    _, sessions_table = _tables()
    try:
        _ddb().update_item(TableName=sessions_table, Key={"pk": _s(f"session#{jti}")},
                           UpdateExpression="SET revoked = :true", ConditionExpression="attribute_exists(pk)",
                           ExpressionAttributeValues={":true": {"BOOL": True}})
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


# ---------------------------------------------------------------- revocation
def revoke_key(key_id: uuid.UUID, now: int) -> None:
    """Mark the key revoked (every process sees it next request), drop its cache entry, flag its sessions."""
    _set_keystate(key_id, "SET revoked = :true, expires_at = :ttl", {":true": {"BOOL": True}}, now)
    _, sessions_table = _tables()
    paginator = _ddb().get_paginator("query")
    for page in paginator.paginate(TableName=sessions_table, IndexName="by_key",
                                   KeyConditionExpression="key_id = :k", ExpressionAttributeValues={":k": _s(key_id)},
                                   ProjectionExpression="pk"):
        for item in page["Items"]:
            _revoke_session_row(item["pk"]["S"].removeprefix("session#"))


def limit_key(key_id: uuid.UUID, valid_until: int, now: int) -> None:
    """The key (and its sessions) stop working at ``valid_until`` (a rotation's overlap end)."""
    _set_keystate(key_id, "SET valid_until = :until, expires_at = :ttl", {":until": _n(valid_until)}, now,
                  ttl=max(now, valid_until) + MARKER_TTL)


def _set_keystate(key_id: uuid.UUID, update: str, values: dict[str, Any], now: int, ttl: int | None = None) -> None:
    cache_table, sessions_table = _tables()
    result = _ddb().update_item(
        TableName=sessions_table, Key={"pk": _s(f"keystate#{key_id}")}, UpdateExpression=update,
        ExpressionAttributeValues={**values, ":ttl": _n(ttl or now + MARKER_TTL)}, ReturnValues="ALL_OLD",
    )
    cache_pk = result.get("Attributes", {}).get("cache_pk")
    if cache_pk is not None:
        _ddb().delete_item(TableName=cache_table, Key={"pk": cache_pk})


def set_customer_suspended(customer_id: uuid.UUID, suspended: bool, key_ids: list[uuid.UUID]) -> None:
    """Flag the customer (the guard answers 403 from the next request) and drop its keys' cache entries."""
    cache_table, sessions_table = _tables()
    _ddb().put_item(TableName=sessions_table,
                    Item={"pk": _s(f"customer#{customer_id}"), "suspended": {"BOOL": suspended}})
    if not suspended:
        return
    for key_id in key_ids:
        marker = _consistent_get(sessions_table, f"keystate#{key_id}")
        if marker and marker.get("cache_pk"):
            _ddb().delete_item(TableName=cache_table, Key={"pk": _s(marker["cache_pk"])})
