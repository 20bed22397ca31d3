"""What text PostgreSQL can store."""

from __future__ import annotations


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
