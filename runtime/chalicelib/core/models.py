"""Pydantic building blocks shared by the areas' request/response models.

A response has one shape: its :class:`ResponseModel`. A view returns the model
(or plain data the route validates with it) and ``core.http.route`` dumps it as
JSON; the value types below say how the API writes what the database holds:

* :data:`UtcTimestamp` — ``2026-10-31T23:59:59Z``, or with the microseconds the
  database stored, ``2026-10-31T23:59:59.123456Z`` (always UTC, always ``Z``);
* :data:`Cents` — an amount as integer cents (a stored ``Decimal`` amount is
  converted, an ``int`` is cents already);
* :data:`DecimalString` — a quantity or price as a plain decimal string
  (``"100000"``, ``"0.0015"``: no exponent, no trailing zeros).

A response model's fields are the document's: it validates a row (a column
stored under another name says so with a ``validation_alias``) as well as the
JSON it produced, so a client (or a test) can read a response back with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from chalicelib.core.money import cents, plain


def _iso_string(value: Any) -> Any:
    # JSON carries timestamps as ISO 8601 strings (the document says so);
    # Pydantic alone would also take a number as Unix seconds.
    if not isinstance(value, (str, datetime)):
        # ValueError, not TypeError: Pydantic makes a ValueError a validation error (422), a TypeError a 500.
        raise ValueError("timestamp must be an ISO 8601 string with a zone")  # noqa: TRY004
    return value


# A timestamp in a request: an ISO 8601 string with a zone, nothing else.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string)]


class RequestModel(BaseModel):
    """Request bodies and query strings: unknown fields are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


# The page size of every list endpoint: this rule's one home (``core.pagination`` slices by it).
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class PageQuery(RequestModel):
    """``limit`` (1-100, default 50) and an opaque ``cursor``, shared by every list endpoint."""

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=512)


def _utc_z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# A moment in a response: ISO 8601 in UTC with a ``Z`` (microseconds when there are any).
UtcTimestamp = Annotated[
    AwareDatetime,
    PlainSerializer(_utc_z, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _amount_in_cents(value: Any) -> Any:
    # A stored amount is a Decimal in dollars (already rounded to cents); JSON and callers give int cents.
    return cents(value) if isinstance(value, Decimal) else value


# An amount of money in a response: integer cents (never a float, never dollars).
Cents = Annotated[int, BeforeValidator(_amount_in_cents)]
# A quantity or price in a response: a plain decimal string (exact, no float).
DecimalString = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]


class ResponseModel(BaseModel):
    """Response documents: what a view returns, what ``route`` dumps, what the OpenAPI document shows.

    Built from rows (``model_validate(row)``): a row's other columns are ignored,
    never shown. The document still allows properties it does not list
    (``additionalProperties``): clients must tolerate fields added later.
    """

    model_config = ConfigDict(
        extra="ignore", validate_by_name=True, validate_by_alias=True, json_schema_extra={"additionalProperties": True}
    )
