"""Pure view-layer helpers: cursors, limits, path ids, validation errors, request ids."""

from __future__ import annotations

import uuid

import pytest
from pydantic import Field

from chalicelib.core import errors, http, pagination
from chalicelib.core.models import PageQuery, RequestModel
from chalicelib.core.observability import resolve_request_id
from chalicelib.core.tables import ALL_TABLES, SESSIONS


def test_cursor_round_trip():
    token = pagination.encode_cursor("2026-10-01T00:00:00+00:00", uuid.UUID(int=7))
    assert pagination.decode_cursor(token, 2) == ["2026-10-01T00:00:00+00:00", str(uuid.UUID(int=7))]


@pytest.mark.parametrize("garbage", ["%%%", "bm90IGpzb24", "WyJhIl0", "eyJhIjogMX0", "W10", "W1sxXV0"])
def test_malformed_cursors_are_400(garbage):
    with pytest.raises(errors.BadRequest):
        pagination.decode_cursor(garbage, 2)


def test_missing_cursor_is_none():
    assert pagination.decode_cursor(None, 2) is None
    assert pagination.decode_cursor("", 2) is None


@pytest.mark.parametrize("raw", ["0", "101", "-1", "abc", "1.5"])
def test_limit_outside_1_to_100_is_400(raw):
    with pytest.raises(errors.BadRequest):
        http.page_limit({"limit": raw})


def test_limit_defaults_to_50():
    assert http.page_limit({}) == 50
    assert PageQuery.model_validate({}).limit == 50


@pytest.mark.parametrize("value", ["not-a-uuid", "", "123", "../etc"])
def test_a_malformed_path_uuid_is_404(value):
    with pytest.raises(errors.NotFound):
        http.path_uuid(value)


def test_validation_errors_are_400_and_name_the_field():
    class Body(RequestModel):
        name: str = Field(min_length=1)

    with pytest.raises(errors.BadRequest, match="name"):
        http.parse_model(Body, {"name": ""})
    with pytest.raises(errors.BadRequest, match="unexpected"):
        http.parse_model(Body, {"name": "x", "unexpected": 1})
    with pytest.raises(errors.BadRequest):
        http.parse_model(Body, ["not", "an", "object"])


def test_rate_limited_carries_retry_after():
    response = errors.to_response(errors.RateLimited("slow down", retry_after=0))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.body == {"Code": "TooManyRequestsError", "Message": "slow down"}


def test_request_ids_are_echoed_only_when_well_formed():
    assert resolve_request_id({"x-request-id": "abc-12345678"}) == "abc-12345678"
    generated = resolve_request_id({"x-request-id": "no spaces allowed here"})
    assert uuid.UUID(generated)
    assert uuid.UUID(resolve_request_id({}))


def test_table_specs_declare_every_key_attribute_once():
    for spec in ALL_TABLES:
        kwargs = spec.boto3_create_kwargs("t")
        names = [a["AttributeName"] for a in kwargs["AttributeDefinitions"]]
        assert len(names) == len(set(names))
    assert SESSIONS.boto3_create_kwargs("t")["GlobalSecondaryIndexes"][0]["IndexName"] == "by_key"


@pytest.mark.parametrize(
    "text, storable", [("plain", True), ("ünïcode ✓", True), ("nul\x00byte", False), ("lone \ud800 surrogate", False)]
)
def test_storable_text(text, storable):
    from chalicelib.core.text import is_storable

    assert is_storable(text) is storable


def test_a_body_with_an_unstorable_string_is_400():
    class Body(RequestModel):
        name: str

    with pytest.raises(errors.BadRequest, match="NUL"):
        http.parse_model(Body, {"name": "a\x00b"})
