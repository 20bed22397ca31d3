"""API key format, generation and verification (pure: no I/O).

A key is ``<prefix><public id>_<secret>``: ``sk_live_`` (the ``prod`` stage)
or ``sk_test_`` (every other stage) for customers, ``op_`` for operators. The
public id (12 base32 characters) is stored in clear and finds the row; the
secret (32 random bytes, base64url) is stored only as a bcrypt hash. The full
key is returned once, at creation. Managing keys (create, list, revoke,
rotate) is ``chalicelib.keys`` and ``chalicelib.operator_keys``.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import bcrypt

from chalicelib.core import errors

LIVE_PREFIX = "sk_live_"
TEST_PREFIX = "sk_test_"
CUSTOMER_PREFIXES = (LIVE_PREFIX, TEST_PREFIX)
OPERATOR_PREFIX = "op_"
# The stage whose customer keys are live keys (cdk_app.config.ENVIRONMENTS names the stages).
LIVE_STAGE = "prod"
SECRET_BYTES = 32
_PUBLIC_ID_LEN = 12
_PREFIXES = "|".join(re.escape(prefix) for prefix in (*CUSTOMER_PREFIXES, OPERATOR_PREFIX))
_KEY = re.compile(rf"^({_PREFIXES})([a-z2-7]{{{_PUBLIC_ID_LEN}}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True, slots=True)
class ParsedKey:
    prefix: str
    public_id: str
    secret: str

    @property
    def is_operator(self) -> bool:
        return self.prefix == OPERATOR_PREFIX


@dataclass(frozen=True, slots=True)
class NewKey:
    prefix: str
    public_id: str
    key: str  # shown once
    secret_hash: str


def customer_prefix(stage: str) -> str:
    """The prefix of new customer keys on ``stage``: ``sk_live_`` on ``prod``, ``sk_test_`` everywhere else."""
    return LIVE_PREFIX if stage == LIVE_STAGE else TEST_PREFIX


def future_expiry(expires_at: datetime | None, *, now: datetime) -> datetime | None:
    """A requested ``expires_at`` (customer or operator key) in UTC; 422 unless it is after ``now``.

    Also 422 when the instant is past year 9999 in UTC (``9999-12-31T23:00:00-05:00``):
    Python cannot hold it, and a 500 is never the answer to an input.
    """
    if expires_at is None:
        return None
    if expires_at <= now:
        raise errors.Unprocessable("expires_at must be in the future")
    try:
        return expires_at.astimezone(UTC)
    except OverflowError as exc:
        raise errors.Unprocessable("expires_at is out of range") from exc


def parse(raw: str | None) -> ParsedKey | None:
    """Split a presented key; ``None`` when it is not a well-formed key."""
    if not isinstance(raw, str) or len(raw) > 200:
        return None
    match = _KEY.match(raw.strip())
    if match is None:
        return None
    return ParsedKey(prefix=match.group(1), public_id=match.group(2), secret=match.group(3))


def _public_id() -> str:
    return base64.b32encode(secrets.token_bytes(8)).decode().lower().rstrip("=")[:_PUBLIC_ID_LEN]


def generate(prefix: str, *, cost: int) -> NewKey:
    """A new key: random public id and secret, the secret bcrypt-hashed with ``cost``."""
    if prefix not in (*CUSTOMER_PREFIXES, OPERATOR_PREFIX):
        raise ValueError(f"unknown key prefix {prefix!r}")
    public_id = _public_id()
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")
    secret_hash = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return NewKey(prefix=prefix, public_id=public_id, key=f"{prefix}{public_id}_{secret}", secret_hash=secret_hash)


def verify_secret(secret: str, secret_hash: str) -> bool:
    """bcrypt's ``checkpw`` compares the recomputed hash in constant time."""
    try:
        return bcrypt.checkpw(secret.encode(), secret_hash.encode())
    except ValueError:  # a corrupt stored hash is a failed verification, not a 500
        return False


def burn_equivalent_time(secret: str, cost: int) -> None:
    """For an unknown public id, spend about as long as a real check so timing does not reveal it."""
    bcrypt.checkpw(secret.encode(), _dummy_hash(cost).encode())


_DUMMIES: dict[int, str] = {}


def _dummy_hash(cost: int) -> str:
    if cost not in _DUMMIES:
        _DUMMIES[cost] = bcrypt.hashpw(b"no-such-key", bcrypt.gensalt(rounds=cost)).decode()
    return _DUMMIES[cost]


def cache_digest(pepper: bytes, key: str) -> str:
    """The verification cache's key: HMAC-SHA256(pepper, full key), hex. Never the raw key."""
    return hmac.new(pepper, key.encode(), "sha256").hexdigest()
