"""The response value types and the route's serialization: one shape per resource, byte for byte."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from chalice import Response
from pydantic import Field, ValidationError

from chalicelib.core.http import serialize
from chalicelib.core.models import Cents, DecimalString, ResponseModel, UtcTimestamp


class Thing(ResponseModel):
    id: uuid.UUID
    at: UtcTimestamp
    until: UtcTimestamp | None = None
    amount_cents: Cents = Field(validation_alias="amount")
    quantity: DecimalString


def _row(**overrides):
    row = {
        "id": uuid.UUID(int=1),
        "at": datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC),
        "amount": Decimal("2430.00"),
        "quantity": Decimal("100000.000000"),
    }
    return row | overrides


def test_a_timestamp_is_utc_with_a_z_and_microseconds_only_when_stored():
    assert serialize(Thing, _row())["at"] == "2026-10-31T23:59:59Z"
    at = datetime(2026, 10, 31, 23, 59, 59, 120000, tzinfo=UTC)
    assert serialize(Thing, _row(at=at))["at"] == "2026-10-31T23:59:59.120000Z"
    paris = datetime(2026, 11, 1, 0, 59, 59, tzinfo=timezone(timedelta(hours=1)))
    assert serialize(Thing, _row(at=paris))["at"] == "2026-10-31T23:59:59Z"
    assert serialize(Thing, _row())["until"] is None


def test_a_stored_amount_is_integer_cents_and_a_quantity_a_plain_decimal_string():
    shown = serialize(Thing, _row())
    assert shown["amount_cents"] == 243000 and isinstance(shown["amount_cents"], int)
    assert shown["quantity"] == "100000"
    assert serialize(Thing, _row(quantity=Decimal("0.0015")))["quantity"] == "0.0015"
    assert serialize(Thing, _row(quantity=Decimal("0E-6")))["quantity"] == "0"


def test_columns_the_model_does_not_declare_are_never_shown():
    shown = serialize(Thing, _row(secret_hash="$2b$12$...", customer_id=uuid.UUID(int=2)))
    assert set(shown) == {"id", "at", "until", "amount_cents", "quantity"}


def test_a_response_reads_back_with_its_own_model():
    shown = serialize(Thing, _row())
    assert serialize(Thing, Thing.model_validate(shown)) == shown


def test_a_model_instance_is_dumped_and_a_response_passes_through():
    thing = Thing.model_validate(_row())
    assert serialize(Thing, thing) == serialize(Thing, _row())
    answer = Response(body={"status": "degraded"}, status_code=503)
    assert serialize(Thing, answer) is answer


def test_data_that_does_not_fit_the_model_is_a_bug_not_a_response():
    with pytest.raises(ValidationError):
        serialize(Thing, {"id": "not-a-uuid"})
