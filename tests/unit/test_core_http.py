"""Pure view-layer helpers: cursors, limits, path ids, validation errors, request ids."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

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


def _rows(n, *, day=False):
    start = date(2026, 10, 31) if day else datetime(2026, 10, 31, tzinfo=UTC)
    return [{"at": start - timedelta(days=i), "id": uuid.UUID(int=n - i)} for i in range(n)]


def test_a_keyset_page_fetches_one_more_row_than_it_shows_and_continues_after_the_last_one():
    rows, calls = _rows(5), []

    def fetch(limit, after):
        calls.append((limit, after))
        below = [r for r in rows if after is None or (r["at"], r["id"]) < after]
        return below[:limit]

    items, cursor = pagination.keyset_page(PageQuery(limit=2), fetch, sort="at")
    assert items == rows[:2] and calls == [(3, None)]
    assert pagination.decode_keyset(cursor) == (rows[1]["at"], rows[1]["id"])
    items, cursor = pagination.keyset_page(PageQuery(limit=3, cursor=cursor), fetch, sort="at")
    assert items == rows[2:5] and cursor is None  # a full last page says so
    assert calls[-1] == (4, (rows[1]["at"], rows[1]["id"]))


def test_a_date_keyed_page_round_trips_its_cursor():
    rows = _rows(3, day=True)
    items, cursor = pagination.keyset_page(
        PageQuery(limit=1), lambda limit, after: rows[:limit], sort="at", by_date=True
    )
    assert items == rows[:1]
    assert pagination.decode_keyset(cursor, by_date=True) == (date(2026, 10, 31), rows[0]["id"])


@pytest.mark.parametrize(
    ("values", "by_date"),
    [
        (("2026-01-01T00:00:00", str(uuid.UUID(int=1))), False),  # no zone
        (("yesterday", str(uuid.UUID(int=1))), False),
        (("2026-01-01T00:00:00+00:00", "not-a-uuid"), False),
        (("2026-01-01T00:00:00+00:00", str(uuid.UUID(int=1))), True),  # a timestamp where a date is expected
    ],
)
def test_a_keyset_cursor_of_the_wrong_shape_is_400(values, by_date):
    with pytest.raises(errors.BadRequest):
        pagination.decode_keyset(pagination.encode_cursor(*values), by_date=by_date)


@pytest.mark.parametrize("raw", ["0", "101", "-1", "abc", "1.5"])
def test_limit_outside_1_to_100_is_400(raw):
    with pytest.raises(errors.BadRequest, match="limit"):
        http.parse_model(PageQuery, {"limit": raw})


@pytest.mark.parametrize("raw", ["1", "100"])
def test_limit_inside_1_to_100_is_taken(raw):
    assert http.parse_model(PageQuery, {"limit": raw}).limit == int(raw)


def test_limit_defaults_to_50():
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
