"""Single-use tokens handed to a person: invitations, password resets, the MFA step of a login.

A token is ``<kind>_<tenant id, 32 hex>_<43 random url-safe characters>``
(256 random bits). Only its SHA-256 is stored (it is random, so no salt or
bcrypt is needed), in a tenant table under row-level security. The tenant id
in clear lets the unauthenticated endpoint that redeems a token open that
tenant's transaction and find the row by hash under RLS, with no lookup
across tenants (the tenant id is no secret: every token response carries it).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

INVITATION = "inv"
PASSWORD_RESET = "pwr"
MFA_LOGIN = "mfa"
_KINDS = frozenset({INVITATION, PASSWORD_RESET, MFA_LOGIN})
_SHAPE = re.compile(r"(inv|pwr|mfa)_([0-9a-f]{32})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True, slots=True)
class UserToken:
    customer_id: uuid.UUID
    token_hash: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(kind: str, customer_id: uuid.UUID) -> tuple[str, str]:
    """A new token of ``kind`` for ``customer_id``, and its hash (store the hash, hand out the token once)."""
    if kind not in _KINDS:
        raise ValueError(f"unknown token kind {kind!r}")
    token = f"{kind}_{customer_id.hex}_{secrets.token_urlsafe(32)}"
    return token, hash_token(token)


def parse(kind: str, token: str) -> UserToken | None:
    """The tenant and hash of a well-formed token of ``kind``; ``None`` for anything else."""
    match = _SHAPE.fullmatch(token.strip()) if len(token) <= 100 else None
    if match is None or match.group(1) != kind:
        return None
    return UserToken(customer_id=uuid.UUID(hex=match.group(2)), token_hash=hash_token(token.strip()))
