"""Authentication state in DynamoDB: the verification cache and the record of sessions.

``cache`` table (pk):
  ``apikey#<HMAC(pepper, key)>``  a successful verification, 4 h (never a failure)
  ``authfail#<public id>#<window>`` failed attempts against one public id

``sessions`` table (pk):
  ``session#<jti>``     one access token: key_id (the ``by_key`` index), subject, role,
                        family, revoked flag, key_valid_until; TTL = token expiry
  ``refresh#<sha256>``  one refresh token (stored hashed), single use
  ``family#<id>``       the chain of sessions refreshed from one authentication; the id is
                        the first session's jti and the item is only written at the first
                        refresh or revocation (a family without an item is that one session),
                        which keeps authentication to two items
  ``keystate#<key id>`` where the key's cache entry is, so revocation can delete it

Per-request liveness is NOT read from here: the guard asks PostgreSQL (one
call to ``auth_request_state``, migration 0011), which reads the key, its
holder and the session's revocation directly. This table stays the record of
sessions and the home of refresh tokens and families.

Cache correctness ("an entry only exists for a live key of an active
customer"), with PostgreSQL as the authority on liveness:

* fill (bcrypt path): put the entry, then record it on the key's marker, then
  (``auth_open_session``, after this module returns) read the key and holder
  in PostgreSQL; if either is no longer live, delete the entry.
* revocation, rotation and suspension: commit in PostgreSQL, *then* delete the
  entries named by the keys' markers (:func:`forget_cached_verifications`).

Either the marker write precedes the marker read (the revoker deletes the
entry) or it follows it, and then the filler's PostgreSQL read follows the
commit and sees the change. Independently of that, every authentication
(cache hit or not) opens its session through ``auth_open_session``, which
refuses a dead key or holder, so even an entry left behind by a failed
delete cannot yield a session; it is deleted when that happens.

In front of the DynamoDB entry each process keeps the same verification in
memory (:class:`_LocalVerifications`, bounded, same expiry). That is safe for
the same reason: an entry only records that a secret's bcrypt check passed
for a key — a fact that never changes — while liveness is decided by
PostgreSQL on every authentication. A refusal drops the entry everywhere this
process can reach; another process's copy costs it one refused attempt, then
it is dropped there too. It saves a DynamoDB round trip on the hot path of a
warm Lambda (a CI fleet authenticating every job with one key).

When DynamoDB cannot serve (``core.aws.DependencyUnavailable``), PostgreSQL
still decides everything that matters, so this module degrades instead of
failing (each case logged and counted as ``DependencyDegraded``):

* the verification cache reads as a miss: authentication verifies the key
  with bcrypt against PostgreSQL, as on any miss;
* the failed-attempt throttle fails open (bcrypt's cost still bounds
  guessing) and the ``auth.failed`` audit, deduplicated through it, is skipped;
* the session record is not written: the session itself is opened in
  PostgreSQL, which every request checks; its refresh token cannot be
  redeemed later (``401``: the client authenticates with its key again);
* revocation clean-ups (cache entries, session flags) are skipped:
  PostgreSQL refuses a revoked key's sessions and authentications anyway;
* a refresh cannot be checked for single use, so it is refused with ``503``
  (:func:`claim_refresh` raises), never accepted blindly.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core import aws
from chalicelib.core.observability import dependency_degraded
from chalicelib.core.settings import get_settings

T = TypeVar("T")

CACHE_TTL = 4 * 3600
REFRESH_TTL = 7 * 24 * 3600
# A marker outlives the cache entry it names.
MARKER_TTL = 2 * CACHE_TTL
FAILURE_WINDOW = 300


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
        ((kind, value),) = typed.items()
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


def _degrades_to(fallback: str, default: Callable[[], Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """When DynamoDB cannot serve, log and count ``fallback`` and return ``default()`` (module docstring)."""

    def decorator(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> T:
            try:
                return function(*args, **kwargs)
            except (aws.DependencyUnavailable, BotoCoreError, ClientError) as exc:
                if not aws.is_outage(exc):
                    raise
                dependency_degraded("dynamodb", fallback, exc)
                return default()

        return wrapped

    return decorator


# ---------------------------------------------------------------- verification cache
class _LocalVerifications:
    """This process's copy of cache entries: digest -> (verification, expiry), least recently used out first."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[CachedVerification, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str, now: int) -> CachedVerification | None:
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            entry, expires_at = found
            if expires_at <= now or (entry.valid_until is not None and entry.valid_until <= now):
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry

    def put(self, digest: str, entry: CachedVerification, expires_at: int) -> None:
        with self._lock:
            self._entries[digest] = (entry, expires_at)
            self._entries.move_to_end(digest)
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def drop(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def drop_keys(self, key_ids: set[uuid.UUID]) -> None:
        with self._lock:
            for digest in [d for d, (entry, _) in self._entries.items() if entry.key_id in key_ids]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_local = _LocalVerifications()


@_degrades_to("auth_cache_miss", lambda: None)
def cached_verification(digest: str, now: int) -> CachedVerification | None:
    """The verification cached for this key digest: this process's copy, else the DynamoDB entry."""
    local = _local.get(digest, now)
    if local is not None:
        return local
    cache_table, _ = _tables()
    item = _plain(
        _ddb().get_item(TableName=cache_table, Key={"pk": _s(f"apikey#{digest}")}, ConsistentRead=True).get("Item")
    )
    # TTL deletion is lazy: an item past its expiry may still be returned.
    if item is None or item.get("expires_at", 0) <= now:
        return None
    valid_until = item.get("valid_until")
    if valid_until is not None and valid_until <= now:
        return None
    entry = CachedVerification(
        key_id=uuid.UUID(item["key_id"]),
        role=item["role"],
        subject=uuid.UUID(item["subject"]),
        public_id=item["public_id"],
        valid_until=valid_until,
    )
    _local.put(digest, entry, item["expires_at"])
    return entry


@_degrades_to("auth_throttle_open", lambda: (0, FAILURE_WINDOW))
def failures(scope: str, now: int) -> tuple[int, int]:
    """Failed attempts counted against ``scope`` (see ``service.throttle_scope``) in the current window,
    and seconds until it ends."""
    cache_table, _ = _tables()
    window = now - now % FAILURE_WINDOW
    item = (
        _ddb()
        .get_item(TableName=cache_table, Key={"pk": _s(f"authfail#{scope}#{window}")}, ConsistentRead=True)
        .get("Item")
    )
    count = int(item["count"]["N"]) if item else 0
    return count, window + FAILURE_WINDOW - now


@_degrades_to("auth_failure_not_counted", lambda: 0)
def record_failure(scope: str, now: int) -> int:
    cache_table, _ = _tables()
    window = now - now % FAILURE_WINDOW
    result = _ddb().update_item(
        TableName=cache_table,
        Key={"pk": _s(f"authfail#{scope}#{window}")},
        UpdateExpression="ADD #c :one SET expires_at = :ttl",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": _n(1), ":ttl": _n(window + 2 * FAILURE_WINDOW)},
        ReturnValues="UPDATED_NEW",
    )
    return int(result["Attributes"]["count"]["N"])


# ---------------------------------------------------------------- sessions
def _session_items(new: NewSession, customer_id: uuid.UUID | None) -> tuple[dict[str, Any], dict[str, Any]]:
    session = {
        "pk": _s(f"session#{new.jti}"),
        "key_id": _s(new.key_id),
        "subject": _s(new.subject),
        "role": _s(new.role),
        "family": _s(new.family),
        "expires_at": _n(new.expires_at),
    }
    if customer_id is not None:
        session["customer_id"] = _s(customer_id)
    if new.key_valid_until is not None:
        session["key_valid_until"] = _n(new.key_valid_until)
    # The refresh token outlives its access token, so it carries what a refresh needs itself.
    refresh = {key: value for key, value in session.items() if key not in ("pk", "expires_at")}
    refresh |= {
        "pk": _s(f"refresh#{new.refresh_hash}"),
        "jti": _s(new.jti),
        "expires_at": _n(new.refresh_expires_at),
        # When it was issued, to the millisecond: a suspension ends the refresh tokens issued before it.
        "issued_at_ms": _n(int(time.time() * 1000)),
    }
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


@_degrades_to("session_record_skipped", lambda: None)
def open_session(
    new: NewSession,
    *,
    customer_id: uuid.UUID | None,
    now: int,
    cache_digest: str | None = None,
    cache_entry: CachedVerification | None = None,
) -> None:
    """Write a session, its refresh token and its family; with ``cache_entry``, fill the cache first.

    No transactions (DynamoDB transactions cost more and moto copies every table
    for each one). A fill puts the entry and then names it on the key's marker;
    the caller must then check the key in PostgreSQL (see the module docstring).
    """
    cache_table, _ = _tables()
    if cache_entry is not None and cache_digest is not None:
        entry_pk = f"apikey#{cache_digest}"
        entry = {
            "pk": _s(entry_pk),
            "key_id": _s(cache_entry.key_id),
            "role": _s(cache_entry.role),
            "subject": _s(cache_entry.subject),
            "public_id": _s(cache_entry.public_id),
            "expires_at": _n(min(now + CACHE_TTL, cache_entry.valid_until or now + CACHE_TTL)),
        }
        if cache_entry.valid_until is not None:
            entry["valid_until"] = _n(cache_entry.valid_until)
        _ddb().put_item(TableName=cache_table, Item=entry)
        _local.put(cache_digest, cache_entry, int(entry["expires_at"]["N"]))
        _, sessions_table = _tables()
        _ddb().put_item(
            TableName=sessions_table,
            Item={"pk": _s(f"keystate#{new.key_id}"), "cache_pk": _s(entry_pk), "expires_at": _n(now + MARKER_TTL)},
        )
    session, refresh = _session_items(new, customer_id)
    _write_all([session, refresh])


@_degrades_to("cache_entry_left", lambda: None)
def drop_cached_verification(cache_digest: str) -> None:
    _local.drop(cache_digest)
    cache_table, _ = _tables()
    _ddb().delete_item(TableName=cache_table, Key={"pk": _s(f"apikey#{cache_digest}")})


def claim_refresh(refresh_hash: str, now: int) -> dict[str, Any] | None:
    """Mark a refresh token used and return it (``key_id`` restored); ``None`` when unknown or expired.

    Raises :class:`RefreshReused` when it had been used before.
    """
    _, sessions_table = _tables()
    try:
        result = _ddb().update_item(
            TableName=sessions_table,
            Key={"pk": _s(f"refresh#{refresh_hash}")},
            UpdateExpression="SET used = :true",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used) AND expires_at > :now",
            ExpressionAttributeValues={":true": {"BOOL": True}, ":now": _n(now)},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        existing = _plain(
            _ddb()
            .get_item(TableName=sessions_table, Key={"pk": _s(f"refresh#{refresh_hash}")}, ConsistentRead=True)
            .get("Item")
        )
        if existing is not None and existing.get("used"):
            raise RefreshReused(existing) from exc
        return None
    claimed = _plain(result["Attributes"])
    claimed["key_id"] = claimed.pop("token_key_id")
    return claimed


def refresh_issued_at(claimed: dict[str, Any]) -> float:
    """When a claimed refresh token was issued (epoch seconds).

    Items written before ``issued_at_ms`` existed: their expiry is REFRESH_TTL after issue (to the second).
    """
    if "issued_at_ms" in claimed:
        return claimed["issued_at_ms"] / 1000
    return claimed["expires_at"] - REFRESH_TTL


class RefreshReused(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("refresh token reused")
        self.item = item
        self.family: str = item["family"]


@_degrades_to("session_record_unread", lambda: None)
def get_session(jti: str) -> dict[str, Any] | None:
    _, sessions_table = _tables()
    return _plain(
        _ddb().get_item(TableName=sessions_table, Key={"pk": _s(f"session#{jti}")}, ConsistentRead=True).get("Item")
    )


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
            TableName=sessions_table,
            Key={"pk": _s(f"family#{new.family}")},
            UpdateExpression="ADD jtis :jtis SET expires_at = :ttl",
            ConditionExpression="attribute_not_exists(revoked)",
            # The family's first session (its id) is listed with the newcomer: the item may not exist yet.
            ExpressionAttributeValues={
                ":jtis": {"SS": sorted({new.family, new.jti})},
                ":ttl": _n(new.refresh_expires_at),
            },
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        _revoke_session_row(new.jti)
        raise SessionFamilyRevoked() from exc
    _revoke_session_row(old_jti)


@_degrades_to("family_flag_skipped", set)
def revoke_family(family: str) -> set[str]:
    """Revoke every session ever refreshed within ``family``, refuse further refreshes; return their jtis."""
    _, sessions_table = _tables()
    result = _ddb().update_item(
        TableName=sessions_table,
        Key={"pk": _s(f"family#{family}")},
        # Creates the item when the family was never refreshed: it is then just its first session.
        UpdateExpression="SET revoked = :true, expires_at = if_not_exists(expires_at, :ttl) ADD jtis :first",
        ExpressionAttributeValues={
            ":true": {"BOOL": True},
            ":first": {"SS": [family]},
            ":ttl": _n(int(time.time()) + REFRESH_TTL),
        },
        ReturnValues="ALL_NEW",
    )
    jtis = _plain(result["Attributes"]).get("jtis", set())
    for jti in jtis:
        _revoke_session_row(jti)
    return jtis


def revoke_session(jti: str, family: str | None) -> set[str]:
    """Revoke one session and its family; return every jti revoked."""
    _revoke_session_row(jti)
    return {jti} | (revoke_family(family) if family else set())


@_degrades_to("session_flag_skipped", lambda: None)
def _revoke_session_row(jti: str) -> None:
    _, sessions_table = _tables()
    try:
        _ddb().update_item(
            TableName=sessions_table,
            Key={"pk": _s(f"session#{jti}")},
            UpdateExpression="SET revoked = :true",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


# ---------------------------------------------------------------- revocation
# Called after the change is committed in PostgreSQL (see the module docstring).
@_degrades_to("key_cleanup_skipped", lambda: None)
def revoke_key(key_id: uuid.UUID) -> None:
    """Drop the key's cache entry and flag its session records revoked (the guard reads PostgreSQL)."""
    forget_cached_verifications([key_id])
    _, sessions_table = _tables()
    paginator = _ddb().get_paginator("query")
    for page in paginator.paginate(
        TableName=sessions_table,
        IndexName="by_key",
        KeyConditionExpression="key_id = :k",
        ExpressionAttributeValues={":k": _s(key_id)},
        ProjectionExpression="pk",
    ):
        for item in page["Items"]:
            _revoke_session_row(item["pk"]["S"].removeprefix("session#"))


@_degrades_to("cache_entries_left", lambda: None)
def forget_cached_verifications(key_ids: list[uuid.UUID]) -> None:
    """Delete the cache entries named by these keys' markers (rotation, suspension, revocation)."""
    _local.drop_keys(set(key_ids))
    cache_table, sessions_table = _tables()
    for key_id in key_ids:
        marker = _consistent_get(sessions_table, f"keystate#{key_id}")
        if marker and marker.get("cache_pk"):
            _ddb().delete_item(TableName=cache_table, Key={"pk": _s(marker["cache_pk"])})
