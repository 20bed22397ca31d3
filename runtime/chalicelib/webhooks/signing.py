"""Webhook secrets and signatures, per the Standard Webhooks specification (standardwebhooks.com).

A secret is ``whsec_`` followed by the standard base64 of 32 random bytes;
the bytes are the HMAC key. Every request carries three headers:

* ``webhook-id``: the event's id, the same on every attempt (receivers
  de-duplicate on it: delivery is at least once);
* ``webhook-timestamp``: when this attempt was signed, in Unix seconds
  (receivers refuse stale ones, which bounds replays);
* ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256, under the key, of
  ``{webhook-id}.{webhook-timestamp}.{body}``.

Pure functions: no I/O. The tests check these signatures with the
``standardwebhooks`` package, an implementation that is not this one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"


def new_key() -> bytes:
    """A fresh signing key (what is sealed and stored)."""
    return secrets.token_bytes(SECRET_BYTES)


def secret_of(key: bytes) -> str:
    """The key as the tenant is shown it once: ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def key_of(secret: str) -> bytes:
    """The key inside a ``whsec_`` secret; ``ValueError`` when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("a webhook secret is base64 after its prefix") from exc
    if not key:
        raise ValueError("a webhook secret is not empty")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "{message_id}.{timestamp}.{body}">``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def headers(key: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(key, message_id, timestamp, body),
    }
