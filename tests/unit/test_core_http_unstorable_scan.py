"""``core.http``'s unstorable-string check decided from the raw JSON text when it can (issue 16).

The walk of the parsed document is skipped only when the text cannot hold NUL
or a lone surrogate; every way JSON can carry one still reaches the walk.
"""

from __future__ import annotations

import json

import pytest

from chalicelib.core import errors, http
from chalicelib.core.models import RequestModel


class Body(RequestModel):
    name: str


def _parse(raw: bytes) -> object:
    return http.parse_model(Body, json.loads(raw), raw=raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "nul\\u0000byte"}',
        b'{"name": "lone \\ud800 surrogate"}',
        b'{"name": "lone \\uDC00 low"}',
        '{"name": "raw \ud800 bytes"}'.encode("utf-8", "surrogatepass"),
        '{"name": "nul\\u0000 in UTF-16"}'.encode("utf-16"),
        '{"name": "nul\\u0000 in UTF-8 with a BOM"}'.encode("utf-8-sig"),
        b'{"n\\u0000me": "x", "name": "y"}',
    ],
)
def test_every_way_json_carries_nul_or_a_lone_surrogate_is_still_400(raw: bytes) -> None:
    with pytest.raises(errors.BadRequest, match="NUL"):
        _parse(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "plain"}',
        '{"name": "ünïcode ✓ 𝄞"}'.encode(),
        b'{"name": "an escaped pair \\ud834\\udd1e and \\u00e9"}',
        b'{"name": "a backslash \\\\ and a quote \\""}',
    ],
)
def test_storable_bodies_pass(raw: bytes) -> None:
    assert _parse(raw) == Body(name=json.loads(raw)["name"])


def test_only_text_that_could_hold_one_is_walked() -> None:
    assert not http._may_be_unstorable(b'{"events": [{"event_id": "e1", "metric": "api_calls"}]}')
    assert not http._may_be_unstorable('{"name": "ünïcode ✓"}'.encode())
    assert http._may_be_unstorable(b'{"name": "\\u00e9"}')  # any escape: walked, not judged here
    assert http._may_be_unstorable('{"name": "x"}'.encode("utf-16"))
