"""Shapes of invoices as customers read them: amounts in integer cents, quantities as decimal strings.

They validate the stored rows, whose columns say ``total`` (dollars) where the
contract says ``total_cents``, and a period's first day where it says ``"2026-10"``.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, field_validator

from chalicelib.core.errors import Unprocessable
from chalicelib.core.models import Cents, DecimalString, PageQuery, RequestModel, ResponseModel, UtcTimestamp
from chalicelib.core.periods import Period, parse_period

InvoiceStatus = Literal["draft", "finalized", "paid", "void", "uncollectible"]
PaymentStatus = Literal["pending", "succeeded", "failed"]


def _first_day(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parse_period(value).first_day
    except Unprocessable as exc:
        raise ValueError(exc.message) from exc


def _label(first_day: date) -> str:
    return Period.of(first_day).label


# An invoice's period: stored as its first day, shown as YYYY-MM.
Month = Annotated[date, BeforeValidator(_first_day), PlainSerializer(_label, return_type=str, when_used="json")]


class InvoicesQuery(PageQuery):
    status: InvoiceStatus | None = Field(default=None, description="Only invoices in this status")

    @field_validator("status", mode="before")
    @classmethod
    def _empty_means_any(cls, value: Any) -> Any:
        return None if value == "" else value


class InvoiceSummaryResponse(ResponseModel):
    id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    period: Month
    status: InvoiceStatus
    currency: str
    total_cents: Cents = Field(validation_alias="total")
    created_at: UtcTimestamp
    finalized_at: UtcTimestamp | None
    due_at: UtcTimestamp | None
    amount_paid_cents: Cents = Field(validation_alias="amount_paid", description="What was received")
    paid_at: UtcTimestamp | None
    payment_status: PaymentStatus | None = Field(description="The payment processor's last charge; null if none")
    next_payment_attempt_at: UtcTimestamp | None = Field(description="When the next charge is tried (dunning)")


class InvoiceLineResponse(ResponseModel):
    description: str
    metric: str | None = Field(validation_alias="metric_code")
    quantity: DecimalString
    unit_price: DecimalString
    amount_cents: Cents = Field(validation_alias="amount")


class InvoiceResponse(InvoiceSummaryResponse):
    subtotal_cents: Cents = Field(validation_alias="subtotal")
    discount_cents: Cents = Field(validation_alias="discount")
    tax_cents: Cents = Field(validation_alias="tax")
    lines: list[InvoiceLineResponse]


class InvoicePageResponse(ResponseModel):
    items: list[InvoiceSummaryResponse]
    next_cursor: str | None


# ------------------------------------------------------------------ the operator's lifecycle changes
class VoidInvoiceBody(RequestModel):
    reason: str = Field(min_length=1, max_length=500, description="Why the invoice is void (kept in the audit trail)")


class MarkPaidBody(RequestModel):
    reference: str = Field(
        min_length=1, max_length=200, description="The payment made outside the processor, e.g. a transfer's id"
    )


# ------------------------------------------------------------------ the upcoming invoice
class ForecastResponse(ResponseModel):
    total_cents: Cents = Field(description="The total projected to the end of the period")
    method: str = Field(description="How the projection is made")


class UpcomingInvoiceResponse(ResponseModel):
    """The current period's invoice as it would be if the period ended now: an invoice without id or number."""

    customer_id: uuid.UUID
    period: Month
    status: Literal["draft"] = Field(description="Always draft: no run has billed the period yet")
    currency: str
    subtotal_cents: Cents
    discount_cents: Cents
    tax_cents: Cents
    total_cents: Cents
    lines: list[InvoiceLineResponse]
    created_at: UtcTimestamp = Field(description="When this preview was computed (as_of)")
    finalized_at: None = None
    due_at: None = None
    amount_paid_cents: Cents = 0
    paid_at: None = None
    payment_status: None = None
    next_payment_attempt_at: None = None
    as_of: UtcTimestamp = Field(description="The moment the usage was read; the invoice prices usage up to it")
    period_ends_at: UtcTimestamp
    forecast: ForecastResponse
