"""Text rules that several areas need, each written once: what PostgreSQL can store, what an
e-mail address and a lowercase identifier look like."""

from __future__ import annotations

import re

# An e-mail address as the API accepts it (customers' e-mail, operators, e-mail recipients):
# something@domain.tld with no spaces, at most 320 characters (RFC 5321's 64 + 1 + 255).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EMAIL_MIN_LENGTH = 3
EMAIL_MAX_LENGTH = 320

# A lowercase identifier: metric codes, e-mail template names, related-object types (at most 63
# characters, PostgreSQL's identifier length).
IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

_EMAIL = re.compile(EMAIL_PATTERN)
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_storable(text: str) -> bool:
    """False for NUL (PostgreSQL text refuses it) and unpaired surrogates (UTF-8 cannot encode them).

    Both survive JSON parsing (``"\\u0000"``, ``"\\ud800"``) and Pydantic's ``str``,
    then fail in the driver; callers turn ``False`` into a 4xx.
    """
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_email_address(text: str) -> bool:
    """True for an address :data:`EMAIL_PATTERN` accepts, of at most :data:`EMAIL_MAX_LENGTH` characters."""
    return len(text) <= EMAIL_MAX_LENGTH and _EMAIL.match(text) is not None and is_storable(text)


def is_identifier(text: str) -> bool:
    """True for a lowercase identifier (:data:`IDENTIFIER_PATTERN`)."""
    return _IDENTIFIER.match(text) is not None
