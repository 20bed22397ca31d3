"""Shapes of usage alerts: the create body, an alert as the API shows it, and a firing as ingestion reports it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from chalicelib.core.models import DecimalString, PageQuery, RequestModel, ResponseModel, UtcTimestamp
from chalicelib.core.money import plain
from chalicelib.core.periods import Period

# A positive amount of a metric's units, written exactly: the scale (6 places) and the
# bound (10^10) of a month's usage (metering). ASCII digits only: Python's Decimal
# would also read other scripts' digits. "0" is well-formed but not positive: a 422.
THRESHOLD_PATTERN = r"^[0-9]{1,11}(\.[0-9]{1,6})?$"
MAX_THRESHOLD = Decimal(10) ** 10


class CreateAlertBody(RequestModel):
    metric: str = Field(min_length=1, max_length=100, examples=["api_calls"])
    threshold: str = Field(
        pattern=THRESHOLD_PATTERN,
        max_length=18,
        examples=["100000"],
        description="Units of the metric in a month, a decimal string: > 0, at most 10^10, at most 6 decimal places",
    )


class AlertListQuery(PageQuery):
    pass


def _month_label(value: Any) -> Any:
    # Stored as the month's first day; the API names a month YYYY-MM (a response read back stays a string).
    return Period.of(value).label if isinstance(value, date) else value


class UsageAlertResponse(ResponseModel):
    id: uuid.UUID
    metric: str = Field(validation_alias="metric_code")
    threshold: DecimalString
    created_at: UtcTimestamp
    last_triggered_period: Annotated[str | None, BeforeValidator(_month_label)] = Field(
        default=None,
        validation_alias="last_fired_period",
        description="The last month (YYYY-MM) it fired; null if never",
    )


class UsageAlertPage(ResponseModel):
    items: list[UsageAlertResponse]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class FiredAlert:
    """An alert a batch made fire, claimed for ``period`` in the ingesting transaction."""

    alert_id: uuid.UUID
    metric: str
    threshold: Decimal
    period: Period
    usage: Decimal

    @classmethod
    def from_json(cls, item: dict[str, str]) -> FiredAlert:
        """One element of ``ingest_usage_events``' ``alerts_fired`` (numbers as strings: exact)."""
        year, month = item["period"].split("-")
        return cls(
            alert_id=uuid.UUID(item["alert_id"]),
            metric=item["metric"],
            threshold=Decimal(item["threshold"]),
            period=Period(int(year), int(month)),
            usage=Decimal(item["usage"]),
        )

    def event_data(self) -> dict[str, str]:
        """The webhook's ``data`` (the contract's ``usage.threshold_reached``): decimals as strings."""
        return {
            "alert_id": str(self.alert_id),
            "metric": self.metric,
            "threshold": plain(self.threshold),
            "period": self.period.label,
            "usage": plain(self.usage),
        }
