"""Compact HS256 JWS verification in one pass: the guard's hot path (issue 16).

PyJWT is what signs our tokens, and what verified them until issue 16: the
header was parsed twice (once to pick the key by ``kid``, once inside
``jwt.decode``), and each parse checks every base64 character in Python. That
came to two thirds of a PyJWT ``decode`` again on every request. This module
does the same checks once, in this order, and nothing more lenient:

* exactly three base64url segments, no padding, nothing outside the alphabet;
* a header that is a JSON object whose ``alg`` is exactly ``HS256``, whose
  ``kid`` is a string naming a key of the keyring, and with no ``crit`` or
  ``b64`` (we never issue them; RFC 7515 says to refuse what is not understood);
* the HMAC-SHA256 of ``header.payload`` with that key, compared in constant
  time with the signature segment *as text*: a signature encoded any other
  way than the one canonical form is refused;
* only then is the payload decoded: a JSON object.

The claims (``exp``, ``iat``, ``iss``, ``aud``...) are checked by
:mod:`chalicelib.auth.tokens`, which raises the messages clients see.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any

from chalicelib.auth.signing import Keyring, SigningKey

ALGORITHM = "HS256"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_REFUSED_HEADERS = ("crit", "b64")


class MalformedToken(ValueError):
    """Not three base64url segments, or a header that is not a JSON object with a string ``kid``."""


class UnsupportedAlgorithm(ValueError):
    """The header names any algorithm but HS256 (``none`` included)."""


class UnknownKey(ValueError):
    """The ``kid`` names no key of the keyring (it may have been rotated elsewhere)."""


class BadSignature(ValueError):
    """The signature does not match, or the signed payload is not a JSON object."""


def verified_payload(token: str, keyring: Keyring) -> dict[str, Any]:
    """The payload of ``token`` once its HS256 signature by the keyring's ``kid`` is verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("not three segments")
    header_segment, payload_segment, signature_segment = parts
    header = _json_object(header_segment, MalformedToken)
    if header.get("alg") != ALGORITHM:
        raise UnsupportedAlgorithm(str(header.get("alg")))
    if any(name in header for name in _REFUSED_HEADERS):
        raise MalformedToken("unsupported header parameter")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise MalformedToken("key id is not a string")
    if not (_SEGMENT.fullmatch(payload_segment) and _SEGMENT.fullmatch(signature_segment)):
        raise MalformedToken("not base64url")  # so that only ASCII is signed and compared
    key = None if kid is None else keyring.find(kid)
    if key is None:
        raise UnknownKey(str(kid))
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)]
    if not hmac.compare_digest(_signature(key, signing_input), signature_segment):
        raise BadSignature("signature mismatch")
    return _json_object(payload_segment, BadSignature)


def _signature(key: SigningKey, signing_input: str) -> str:
    mac = hmac.new(key.secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _json_object(segment: str, error: type[ValueError]) -> dict[str, Any]:
    """A base64url segment (unpadded) holding a JSON object, or ``error``."""
    if len(segment) % 4 == 1 or not _SEGMENT.fullmatch(segment):
        raise error("not base64url")
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise error("not JSON") from exc
    if not isinstance(value, dict):
        raise error("not a JSON object")
    return value
