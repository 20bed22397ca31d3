"""Text rules that several areas need, each written once: what PostgreSQL can store, what an
e-mail address and a lowercase identifier look like."""

from __future__ import annotations

import re

# An e-mail address's syntax as the API documents it (customers' e-mail): something@domain.tld,
# no spaces, 3-320 characters. The OpenAPI document publishes these values.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
EMAIL_MIN_LENGTH = 3
EMAIL_MAX_LENGTH = 320
# What a mail server accepts on top of that (RFC 5321): the parts before and after the @.
EMAIL_LOCAL_MAX_LENGTH = 64
EMAIL_DOMAIN_MAX_LENGTH = 255

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
    """True for an address we can send to: :data:`EMAIL_PATTERN`, within RFC 5321's part lengths, storable.

    Operators' addresses and every e-mail recipient are checked with this. A
    customer's address is accepted by the API's pattern alone (its published
    contract), so one with a local part over 64 characters is stored but never
    mailed: the e-mail is refused when it is queued, and what caused it (a
    ticket, an invoice) is kept.
    """
    if _EMAIL.match(text) is None or not is_storable(text):
        return False
    local, _, domain = text.rpartition("@")
    return len(local) <= EMAIL_LOCAL_MAX_LENGTH and len(domain) <= EMAIL_DOMAIN_MAX_LENGTH


def is_identifier(text: str) -> bool:
    """True for a lowercase identifier (:data:`IDENTIFIER_PATTERN`)."""
    return _IDENTIFIER.match(text) is not None
