"""The e-mail address and identifier rules every area shares (core.text)."""

from __future__ import annotations

import pytest

from chalicelib.core.text import is_email_address, is_identifier


@pytest.mark.parametrize(
    "text, ok",
    [
        ("ops@example.com", True),
        ("a@b.co", True),
        ("first.last+tag@sub.example.test", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("no@dot", False),
        ("space in@example.com", False),
        ("nul\x00@example.com", False),
        ("x" * 64 + "@example.com", True),  # RFC 5321: at most 64 before the @
        ("x" * 65 + "@example.com", False),
        ("a@" + "d" * 251 + ".com", True),  # and at most 255 after it
        ("a@" + "d" * 252 + ".com", False),
    ],
)
def test_one_email_rule_for_operators_and_recipients(text, ok):
    assert is_email_address(text) is ok


@pytest.mark.parametrize(
    "text, ok",
    [
        ("api_calls", True),
        ("invoice", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("API_CALLS", False),
        ("1abc", False),
        ("api calls", False),
        ("", False),
    ],
)
def test_identifiers_are_lowercase_and_at_most_63_characters(text, ok):
    assert is_identifier(text) is ok
