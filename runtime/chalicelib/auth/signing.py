"""The secrets authentication needs, from Secrets Manager, cached in-process.

* JWT signing keys: ``{"current": {"kid", "secret"}, "previous": null | {"kid", "secret"}}``,
  or the flat ``{"seed": true, "secret": "..."}`` that Secrets Manager generates
  when CDK creates (or replaces) the secret: read as a current key whose kid is
  derived from the secret, so every instance agrees on it without a rewrite.
  New tokens are signed with ``current``; tokens carrying ``previous``'s kid
  still verify until they expire, so rotating the secret logs nobody out.
  A token with a kid we do not know triggers one re-read (rate limited), so a
  rotation done elsewhere is picked up without waiting for the cache to age.
* The API-key pepper: the HMAC key of the verification cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.core import aws
from chalicelib.core.cache import LocalCache
from chalicelib.core.settings import get_settings

_MAX_AGE = 300.0
_MIN_REFRESH_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class Keyring:
    current: SigningKey
    previous: SigningKey | None

    def find(self, kid: str) -> SigningKey | None:
        for key in (self.current, self.previous):
            if key is not None and key.kid == kid:
                return key
        return None

    @classmethod
    def from_json(cls, raw: str) -> Keyring:
        document = json.loads(raw)
        if isinstance(document, dict) and document.get("seed") and isinstance(document.get("secret"), str):
            secret = document["secret"]
            return cls(current=SigningKey(kid=seed_kid(secret), secret=secret.encode()), previous=None)

        def key(value: dict[str, Any] | None) -> SigningKey | None:
            if not value:
                return None
            return SigningKey(kid=str(value["kid"]), secret=str(value["secret"]).encode())

        current = key(document["current"])
        if current is None:
            raise ValueError("the JWT secret has no current key")
        return cls(current=current, previous=key(document.get("previous")))


def seed_kid(secret: str) -> str:
    """The key id of a generated seed secret: derived from it, the same in every process."""
    return "seed-" + hashlib.sha256(secret.encode()).hexdigest()[:16]


# secret id -> (when it was fetched, its value); an entry is dropped at _MAX_AGE.
_secrets: LocalCache[str, tuple[float, str]] = LocalCache(ttl=_MAX_AGE, max_entries=16)
_fetching = threading.Lock()


def _secret(secret_id: str, *, force: bool = False) -> str:
    """The secret's value, at most ``_MAX_AGE`` old; ``force`` re-reads it unless read in the last few seconds."""
    cached = _secrets.get(secret_id)
    if cached is not None:
        fetched_at, value = cached
        if not force or time.monotonic() - fetched_at < _MIN_REFRESH_INTERVAL:
            return value
    with _fetching:
        fetched: str = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        _secrets.put(secret_id, (time.monotonic(), fetched))
        return fetched


def keyring(*, refresh: bool = False) -> Keyring:
    return _parsed(_secret(get_settings().jwt_secret_id, force=refresh))


@functools.lru_cache(maxsize=4)
def _parsed(raw: str) -> Keyring:
    """The keyring of one secret value, parsed once: the guard asks for it on every request (issue 16).

    Keyed by the value itself, so a rotation (a new value) is a new entry at once; the
    value's own age is ``_secret``'s business.
    """
    return Keyring.from_json(raw)


def pepper() -> bytes:
    return _secret(get_settings().pepper_secret_id).encode()


def forget() -> None:
    """Drop cached secrets (tests rotate the JWT key; a new stack has new secrets)."""
    _secrets.clear()
