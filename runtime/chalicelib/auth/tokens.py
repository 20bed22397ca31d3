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

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from chalicelib.auth import jws
from chalicelib.auth.signing import Keyring
from chalicelib.core.context import Role, TenantRole

ALGORITHM = jws.ALGORITHM
TTL_SECONDS = 24 * 3600
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]


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

    The token is parsed and its signature checked once (:mod:`chalicelib.auth.jws`), then its
    registered claims are checked as PyJWT's ``decode`` checked them (no leeway, in its order):
    every one of ``_REQUIRED`` present, ``iat`` and ``nbf`` not in the future, ``exp`` in it,
    ``iss`` exactly ours, ``aud`` ours or a list holding ours, ``sub`` and ``jti`` strings.
    """
    try:
        payload = jws.verified_payload(token, keyring)
    except jws.MalformedToken as exc:
        raise InvalidToken("Malformed token") from exc
    except jws.UnsupportedAlgorithm as exc:
        raise InvalidToken("Unsupported token algorithm") from exc
    except jws.UnknownKey as exc:
        raise InvalidToken("Unknown signing key") from exc
    except jws.BadSignature as exc:
        raise InvalidToken("Invalid token") from exc
    _check_registered_claims(payload, issuer=issuer, audience=audience, now=time.time())
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


def _check_registered_claims(payload: dict[str, Any], *, issuer: str, audience: str, now: float) -> None:
    if any(payload.get(name) is None for name in _REQUIRED):
        raise InvalidToken("Invalid token")
    try:
        issued_at = int(payload["iat"])
        not_before = int(payload["nbf"]) if "nbf" in payload else None
        expires_at = int(payload["exp"])
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidToken("Invalid token") from exc
    if issued_at > now or (not_before is not None and not_before > now):
        raise InvalidToken("Invalid token")  # not yet valid
    if expires_at <= now:
        raise InvalidToken("Token expired")
    if payload["iss"] != issuer:
        raise InvalidToken("Invalid token")
    audiences = payload["aud"]
    if isinstance(audiences, str):
        audiences = [audiences]
    if not isinstance(audiences, list) or any(not isinstance(a, str) for a in audiences) or audience not in audiences:
        raise InvalidToken("Invalid token")
    if not isinstance(payload["sub"], str) or not isinstance(payload["jti"], str):
        raise InvalidToken("Invalid token")


def optional_uuid(value: object) -> uuid.UUID | None:
    """A claim or record field that holds a UUID or nothing (``key_id`` of a person, ``user_id`` of a key)."""
    return None if value is None else uuid.UUID(str(value))
