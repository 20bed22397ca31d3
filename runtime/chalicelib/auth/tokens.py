"""HS256 access tokens (pure: the keyring is passed in).

Verification pins the algorithm to HS256 (``alg: none`` and every other
algorithm are rejected before any key is used), picks the key by the ``kid``
header, and requires ``exp``, ``iat``, ``iss``, ``aud``, ``sub``, ``jti``,
``role`` and ``key_id``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import jwt

from chalicelib.auth.signing import Keyring
from chalicelib.core.context import Role

ALGORITHM = "HS256"
TTL_SECONDS = 24 * 3600
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]


class InvalidToken(Exception):
    """Any reason a bearer token is not acceptable; the message is safe to return."""


@dataclass(frozen=True, slots=True)
class Claims:
    subject: uuid.UUID
    role: Role
    key_id: uuid.UUID
    jti: str
    issued_at: int
    expires_at: int


def issue(
    keyring: Keyring,
    *,
    subject: uuid.UUID,
    role: Role,
    key_id: uuid.UUID,
    jti: str,
    now: int,
    issuer: str,
    audience: str,
) -> str:
    payload = {
        "sub": str(subject),
        "role": str(role),
        "key_id": str(key_id),
        "jti": jti,
        "iat": now,
        "exp": now + TTL_SECONDS,
        "iss": issuer,
        "aud": audience,
    }
    key = keyring.current
    return jwt.encode(payload, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify(token: str, keyring: Keyring, *, issuer: str, audience: str) -> Claims:
    """Return the claims of a valid token or raise :class:`InvalidToken`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("Malformed token") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("Unsupported token algorithm")
    kid = header.get("kid")
    key = keyring.find(kid) if isinstance(kid, str) else None
    if key is None:
        raise InvalidToken("Unknown signing key")
    try:
        payload = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": _REQUIRED},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("Token expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("Invalid token") from exc
    try:
        claims = Claims(
            subject=uuid.UUID(str(payload["sub"])),
            role=Role(str(payload["role"])),
            key_id=uuid.UUID(str(payload["key_id"])),
            jti=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("Invalid token claims") from exc
    if not claims.jti or len(claims.jti) > 64:
        raise InvalidToken("Invalid token claims")
    return claims
