"""Shapes of usage metering: the batch a client sends, and what ingesting and reading a month return."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.core.errors import PayloadTooLarge
from chalicelib.core.models import DecimalString, RequestModel, ResponseModel, Timestamp

MAX_BATCH = 1000

# Quantity is checked by the service, not by Pydantic: the contract makes a
# negative or non-numeric quantity a 422 that names the event, not a 400.
Quantity = Annotated[
    Any,
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": 1_000_000_000},
                {"type": "string", "pattern": r"^\d+(\.\d{1,6})?$"},
            ],
            "description": "Non-negative decimal below 10^9, at most 6 decimal places (a JSON number or a numeric string);"
            " a customer's total per metric and month is at most 10^10.",
        }
    ),
]


class UsageEventIn(RequestModel):
    event_id: str = Field(min_length=1, max_length=200, description="Client-unique id; repeats are ignored")
    metric: str = Field(min_length=1, max_length=100, examples=["api_calls"])
    quantity: Quantity
    timestamp: Timestamp = Field(description="When the usage happened (ISO 8601 with a zone)")


class MetricsBatch(RequestModel):
    events: list[UsageEventIn] = Field(min_length=1, description=f"1-{MAX_BATCH} events; more is 413")

    @model_validator(mode="before")
    @classmethod
    def _refuse_oversized_batch(cls, data: Any) -> Any:
        # Counted before any event is validated: an oversized batch is a 413
        # whatever it contains. A DomainError passes through Pydantic untouched.
        if isinstance(data, dict) and isinstance(data.get("events"), list) and len(data["events"]) > MAX_BATCH:
            raise PayloadTooLarge(f"A batch holds at most {MAX_BATCH} events; got {len(data['events'])}")
        return data


class UsageQuery(RequestModel):
    period: str | None = Field(default=None, max_length=32, description="YYYY-MM (default: current month)")
    daily: bool = Field(
        default=False,
        description="true: each metric entry also carries `daily`, its usage per UTC day of the month"
        " (for the portal's chart; reads the month's events, so only when asked)",
    )


class IngestResponse(ResponseModel):
    accepted: int = Field(description="New events recorded")
    duplicates: int = Field(description="Events already recorded (in this batch or before): ignored")


def _absent_not_null(schema: dict[str, Any]) -> None:
    # The field is left out rather than null: no "default": null (invalid for an array) in the document.
    schema.pop("default", None)


class DailyUsageResponse(ResponseModel):
    date: dt.date = Field(description="A UTC day of the month (YYYY-MM-DD)")
    quantity: DecimalString = Field(description="Used that day (decimal string)")


class MetricUsageResponse(ResponseModel):
    metric: str
    quantity: DecimalString = Field(description="Used this month (decimal string)")
    included: DecimalString = Field(description="Included in the tier (decimal string)")
    billable: DecimalString = Field(description="max(0, quantity - included) (decimal string)")
    # Absent unless asked for (``?daily=true``): the document without it is unchanged.
    daily: list[DailyUsageResponse] | SkipJsonSchema[None] = Field(
        default=None,
        exclude_if=lambda value: value is None,
        json_schema_extra=_absent_not_null,
        description="Only with ?daily=true: the days of the month with usage, oldest first (days without"
        " usage are left out; empty for a month past the usage retention, whose events are archived)",
    )


class UsageResponse(ResponseModel):
    period: str
    metrics: list[MetricUsageResponse]
