"""TOTP second factor (RFC 6238) and recovery codes (pure: no I/O, no clock of its own).

TOTP: SHA-1, 30-second steps, 6 digits (what every authenticator app does
with an ``otpauth://`` URI), a 160-bit secret (RFC 4226's recommendation).
A code is accepted for the current step and one either side (clock drift).
:func:`matching_step` returns the step a code matched: the caller stores the
last accepted step per user and refuses a step at or before it, so a code is
accepted once even though it stays valid for up to 90 seconds.

Recovery codes are random (79 bits each, from ``secrets``), so they are stored
as a plain SHA-256 of the normalized code: a salt and bcrypt exist to slow the
guessing of *human-chosen* secrets, and guessing 2**79 candidates is out of
reach whatever the hash costs, even against every user's codes at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import pyotp

STEP_SECONDS = 30
DIGITS = 6
SECRET_BYTES = 20  # 160 bits: 32 base32 characters, no padding
# Steps accepted around now: one before and one after, for clock drift between the phone and us.
DRIFT_STEPS = 1
_CODE = re.compile(r"[0-9]{6}")  # not \d: that also matches other scripts' digits

RECOVERY_CODE_COUNT = 10
# Lowercase letters and digits without the look-alikes 0/o, 1/l/i: 31 symbols.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS, _GROUP_LENGTH = 4, 4  # "abcd-efgh-jkmn-pqrs": 16 symbols, 16 * log2(31) = 79 bits
_RECOVERY = re.compile(
    rf"[{RECOVERY_ALPHABET}]{{{_GROUP_LENGTH}}}(?:-[{RECOVERY_ALPHABET}]{{{_GROUP_LENGTH}}}){{{_GROUPS - 1}}}"
)


def new_secret() -> str:
    """A new TOTP secret: 160 random bits, base32 (upper case, no padding), as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app reads (from a QR code or pasted)."""
    return _totp(secret).provisioning_uri(name=email, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (``int(now // 30)`` ± 1) whose code ``code`` is, or ``None``.

    ``code`` may carry surrounding whitespace and a space in the middle (``"123 456"``,
    as apps show it); anything else that is not exactly six ASCII digits is ``None``.
    Every candidate step is computed and compared (``hmac.compare_digest``), so
    the time taken does not say which step matched or how close a guess came.
    When two steps have the same code the later one is returned: storing the
    earlier would let the same code be accepted again for the later step.
    """
    if not isinstance(code, str):
        return None
    code = code.strip().replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    totp = _totp(secret)
    current = int(now // STEP_SECONDS)
    matched: int | None = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step >= 0 and hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    return matched


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)


def new_recovery_codes() -> list[str]:
    """:data:`RECOVERY_CODE_COUNT` distinct random codes, ``abcd-efgh-jkmn-pqrs``: shown to the user once."""
    codes: list[str] = []
    while len(codes) < RECOVERY_CODE_COUNT:
        symbols = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(_GROUPS * _GROUP_LENGTH))
        code = _hyphenate(symbols)
        if code not in codes:  # a repeat is all but impossible, but the ten must be ten
            codes.append(code)
    return codes


def normalize_recovery_code(code: str) -> str:
    """The canonical form of a typed code: trimmed, lower case, no spaces, hyphens where they belong.

    ``" ABCD EFGH-jkmn-pqrs "`` and ``"abcdefghjkmnpqrs"`` both become
    ``"abcd-efgh-jkmn-pqrs"``. Input that is no code is returned trimmed and
    lowered (it will simply match no stored hash).
    """
    lowered = code.strip().lower().replace(" ", "")
    bare = lowered.replace("-", "")
    if len(bare) == _GROUPS * _GROUP_LENGTH:
        return _hyphenate(bare)
    return lowered


def looks_like_recovery_code(code: str) -> bool:
    """Whether ``code`` is, once normalized, in the recovery-code format (so not a TOTP code)."""
    return isinstance(code, str) and _RECOVERY.fullmatch(normalize_recovery_code(code)) is not None


def hash_recovery_code(code: str) -> str:
    """SHA-256 (hex) of the normalized code: what is stored and looked up (see the module docstring)."""
    return hashlib.sha256(normalize_recovery_code(code).encode("utf-8", "surrogatepass")).hexdigest()


def _hyphenate(symbols: str) -> str:
    return "-".join(symbols[i : i + _GROUP_LENGTH] for i in range(0, len(symbols), _GROUP_LENGTH))
