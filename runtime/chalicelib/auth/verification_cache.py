"""The verification cache: an API key whose secret passed bcrypt, remembered for 4 hours.

``cache`` table (pk):
  ``apikey#<HMAC(pepper, key)>``  a successful verification, 4 h (never a failure)

``sessions`` table (pk):
  ``keystate#<key id>``  where the key's cache entry is, so revocation can delete it

Cache correctness ("an entry only exists for a live key of an active
customer"), with PostgreSQL as the authority on liveness:

* fill (bcrypt path, :func:`remember`): put the entry, then record it on the
  key's marker, then (``auth_open_session``, after this module returns) read
  the key and holder in PostgreSQL; if either is no longer live, delete the
  entry (:func:`drop`).
* revocation, rotation and suspension: commit in PostgreSQL, *then* delete the
  entries named by the keys' markers (:func:`forget_keys`, through
  ``auth.revocation.after_keys_changed``).

Either the marker write precedes the marker read (the revoker deletes the
entry) or it follows it, and then the filler's PostgreSQL read follows the
commit and sees the change. Independently of that, every authentication
(cache hit or not) opens its session through ``auth_open_session``, which
refuses a dead key or holder, so even an entry left behind by a failed
delete cannot yield a session; it is deleted when that happens.

In front of the DynamoDB entry each process keeps the same verification in
memory (a ``core.cache.LocalCache``: at most ``LOCAL_ENTRIES``, least
recently used out first, same expiry). That is safe for the same reason: an
entry only records that a secret's bcrypt check passed for a key — a fact
that never changes — while liveness is decided by PostgreSQL on every
authentication. A refusal drops the entry everywhere this process can reach;
another process's copy costs it one refused attempt, then it is dropped there
too. It saves a DynamoDB round trip on the hot path of a warm Lambda (a CI
fleet authenticating every job with one key).

When DynamoDB cannot serve (``auth.dynamodb``), PostgreSQL still decides
everything that matters, so this module degrades instead of failing:

* a lookup reads as a miss (``auth_cache_miss``): authentication verifies the
  key with bcrypt against PostgreSQL, as on any miss;
* a fill is skipped (``auth_cache_not_filled``): the next authentication
  verifies with bcrypt again;
* clean-ups are skipped (``cache_entry_left``, ``cache_entries_left``):
  PostgreSQL refuses a revoked key's authentications anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from chalicelib.auth import clock, dynamodb
from chalicelib.auth.dynamodb import n, s
from chalicelib.core.cache import LocalCache
from chalicelib.core.context import Role

CACHE_TTL = 4 * 3600
# A marker outlives the cache entry it names.
MARKER_TTL = 2 * CACHE_TTL
LOCAL_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    """A key whose secret passed bcrypt: whose it is, and until when it may authenticate at most.

    What a cache entry holds, and what authentication opens a session for;
    PostgreSQL still says, every time, whether the key and its holder are live.
    """

    key_id: uuid.UUID
    role: Role
    subject: uuid.UUID  # customer id or operator id
    public_id: str
    valid_until: int | None  # the key's own expiry / overlap end, epoch seconds

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.role.customer_id(self.subject)


# digest -> verification; expiries are epoch seconds, like the DynamoDB entries'.
_local: LocalCache[str, VerifiedKey] = LocalCache(max_entries=LOCAL_ENTRIES, clock=clock.now)


def _entry_pk(digest: str) -> str:
    return f"apikey#{digest}"


def _keep_locally(digest: str, verified: VerifiedKey, expires_at: int) -> None:
    """This process's copy ends with its DynamoDB twin, or with the key, whichever is first."""
    ends = expires_at if verified.valid_until is None else min(expires_at, verified.valid_until)
    _local.put(digest, verified, expires_at=ends)


def _forget_locally(key_ids: list[uuid.UUID]) -> None:
    doomed = set(key_ids)
    _local.pop_where(lambda verified: verified.key_id in doomed)


@dynamodb.degrades_to("auth_cache_miss", lambda: None)
def cached_verification(digest: str, now: int) -> VerifiedKey | None:
    """The verification cached for this key digest: this process's copy, else the DynamoDB entry."""
    local = _local.get(digest)
    if local is not None:
        return local
    item = dynamodb.consistent_get(dynamodb.cache_table(), _entry_pk(digest))
    # TTL deletion is lazy: an item past its expiry may still be returned.
    if item is None or item.get("expires_at", 0) <= now:
        return None
    valid_until = item.get("valid_until")
    if valid_until is not None and valid_until <= now:
        return None
    verified = VerifiedKey(
        key_id=uuid.UUID(item["key_id"]),
        role=Role(item["role"]),
        subject=uuid.UUID(item["subject"]),
        public_id=item["public_id"],
        valid_until=valid_until,
    )
    _keep_locally(digest, verified, item["expires_at"])
    return verified


@dynamodb.degrades_to("auth_cache_not_filled", lambda: None)
def remember(digest: str, verified: VerifiedKey, now: int) -> None:
    """Fill: put the entry (and this process's copy), then name it on the key's marker.

    The caller must then check the key in PostgreSQL (module docstring). No
    transaction: DynamoDB transactions cost more, and the order is the protocol.
    """
    expires_at = min(now + CACHE_TTL, verified.valid_until or now + CACHE_TTL)
    entry = {
        "pk": s(_entry_pk(digest)),
        "key_id": s(verified.key_id),
        "role": s(verified.role),
        "subject": s(verified.subject),
        "public_id": s(verified.public_id),
        "expires_at": n(expires_at),
    }
    if verified.valid_until is not None:
        entry["valid_until"] = n(verified.valid_until)
    ddb = dynamodb.client()
    ddb.put_item(TableName=dynamodb.cache_table(), Item=entry)
    _keep_locally(digest, verified, expires_at)
    ddb.put_item(
        TableName=dynamodb.sessions_table(),
        Item={
            "pk": s(f"keystate#{verified.key_id}"),
            "cache_pk": s(_entry_pk(digest)),
            "expires_at": n(now + MARKER_TTL),
        },
    )


@dynamodb.degrades_to("cache_entry_left", lambda: None)
def drop(digest: str) -> None:
    """Delete one entry (a verification PostgreSQL has just refused), here and in DynamoDB."""
    _local.pop(digest)
    dynamodb.client().delete_item(TableName=dynamodb.cache_table(), Key={"pk": s(_entry_pk(digest))})


@dynamodb.degrades_to("cache_entries_left", lambda: None)
def forget_keys(key_ids: list[uuid.UUID]) -> None:
    """Delete the entries of these keys: this process's copies, and those their markers name."""
    _forget_locally(key_ids)
    for key_id in key_ids:
        marker = dynamodb.consistent_get(dynamodb.sessions_table(), f"keystate#{key_id}")
        if marker and marker.get("cache_pk"):
            dynamodb.client().delete_item(TableName=dynamodb.cache_table(), Key={"pk": s(marker["cache_pk"])})
