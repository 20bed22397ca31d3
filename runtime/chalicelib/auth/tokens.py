"""HS256 access tokens (pure: the keyring is passed in).

Verification pins the algorithm to HS256 (``alg: none`` and every other
algorithm are rejected before any key is used), picks the key by the ``kid``
header, and requires ``exp``, ``iat``, ``iss``, ``aud``, ``sub``, ``jti``,
``role``, and a credential: ``key_id`` (an API key's session) or ``user_id``
(a person's), never both. A tenant's token also carries ``tenant_role`` (the
role when it was issued; the guard reads the current one from PostgreSQL) and
``amr`` (how the session was authenticated).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass

import jwt

from chalicelib.auth.signing import Keyring
from chalicelib.core.context import Role, TenantRole

ALGORITHM = "HS256"
TTL_SECONDS = 24 * 3600
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]
# Three unpadded base64url segments, nothing else (PyJWT would also take padding, which we never issue).
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class InvalidToken(Exception):
    """Any reason a bearer token is not acceptable; the message is safe to return."""


AMR_VALUES = frozenset({"key", "pwd", "otp"})


@dataclass(frozen=True, slots=True)
class Claims:
    subject: uuid.UUID
    role: Role
    key_id: uuid.UUID | None
    jti: str
    issued_at: int
    expires_at: int
    user_id: uuid.UUID | None = None
    tenant_role: TenantRole | None = None
    amr: tuple[str, ...] = ("key",)


def issue(
    keyring: Keyring,
    *,
    subject: uuid.UUID,
    role: Role,
    key_id: uuid.UUID | None,
    jti: str,
    now: int,
    issuer: str,
    audience: str,
    user_id: uuid.UUID | None = None,
    tenant_role: TenantRole | None = None,
    amr: tuple[str, ...] = ("key",),
) -> str:
    payload: dict[str, object] = {
        "sub": str(subject),
        "role": str(role),
        "key_id": None if key_id is None else str(key_id),
        "jti": jti,
        "iat": now,
        "exp": now + TTL_SECONDS,
        "iss": issuer,
        "aud": audience,
    }
    if role is Role.CUSTOMER:
        payload |= {
            "tenant_role": None if tenant_role is None else str(tenant_role),
            "user_id": None if user_id is None else str(user_id),
            "amr": list(amr),
        }
    key = keyring.current
    return jwt.encode(payload, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify(token: str, keyring: Keyring, *, issuer: str, audience: str) -> Claims:
    """Return the claims of a valid token or raise :class:`InvalidToken`.

    PyJWT verifies (signature, algorithm, registered claims): JWT verification
    stays a well-reviewed library's work. Only the header is read here first,
    to pick the key by ``kid`` (see :func:`_header`).
    """
    header = _header(token)
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
        raw_amr = payload.get("amr", ["key"])
        claims = Claims(
            subject=uuid.UUID(str(payload["sub"])),
            role=Role(str(payload["role"])),
            key_id=optional_uuid(payload.get("key_id")),
            jti=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            user_id=optional_uuid(payload.get("user_id")),
            tenant_role=None if payload.get("tenant_role") is None else TenantRole(str(payload["tenant_role"])),
            amr=tuple(str(a) for a in raw_amr) if isinstance(raw_amr, list) else ("?",),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidToken("Invalid token claims") from exc
    if not claims.jti or len(claims.jti) > 64:
        raise InvalidToken("Invalid token claims")
    # Exactly one credential; only tenants have people.
    if (claims.key_id is None) == (claims.user_id is None) or (claims.user_id and claims.role is not Role.CUSTOMER):
        raise InvalidToken("Invalid token claims")
    if not claims.amr or not set(claims.amr) <= AMR_VALUES:
        raise InvalidToken("Invalid token claims")
    return claims


def _header(token: str) -> dict[str, object]:
    """The token's header, read only to choose the key; ``jwt.decode`` then checks all of it again.

    ``jwt.get_unverified_header`` decoded and checked the whole token (payload
    and signature too) just to read the ``kid``, which ``jwt.decode`` then did
    again: 35 of the ~190 µs ``verify`` took, measured alone; this read takes 5
    (issue 16, ``authorize_vs_floor_ratio``). A header with ``crit`` is refused: we never
    issue one, and RFC 7515 says a parameter a verifier does not understand
    must not be ignored; nor is padding, which we never issue either.
    """
    if not _COMPACT.fullmatch(token):
        raise InvalidToken("Malformed token")
    head = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidToken("Malformed token") from exc
    if not isinstance(header, dict) or "crit" in header:
        raise InvalidToken("Malformed token")
    return header


def optional_uuid(value: object) -> uuid.UUID | None:
    """A claim or record field that holds a UUID or nothing (``key_id`` of a person, ``user_id`` of a key)."""
    return None if value is None else uuid.UUID(str(value))
