"""Shapes of invoices as customers read them: amounts in integer cents, quantities as decimal strings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from chalicelib.core.models import PageQuery, ResponseModel
from chalicelib.core.money import cents, plain
from chalicelib.notifications.models import iso_utc

InvoiceStatus = Literal["draft", "finalized", "paid", "void"]


class InvoicesQuery(PageQuery):
    status: InvoiceStatus | None = Field(default=None, description="Only invoices in this status")

    @field_validator("status", mode="before")
    @classmethod
    def _empty_means_any(cls, value: Any) -> Any:
        return None if value == "" else value


class InvoiceSummaryResponse(ResponseModel):
    id: str
    number: str
    customer_id: str
    period: str
    status: InvoiceStatus
    currency: str
    total_cents: int
    created_at: str
    finalized_at: str | None
    due_at: str | None


class InvoiceLineResponse(ResponseModel):
    description: str
    metric: str | None
    quantity: str
    unit_price: str
    amount_cents: int


class InvoiceResponse(InvoiceSummaryResponse):
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    lines: list[InvoiceLineResponse]


class InvoicePageResponse(ResponseModel):
    items: list[InvoiceSummaryResponse]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    metric_code: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "metric": self.metric_code,
            "quantity": plain(self.quantity),
            "unit_price": plain(self.unit_price),
            "amount_cents": cents(self.amount),
        }


@dataclass(frozen=True, slots=True)
class Invoice:
    id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    period: date
    status: str
    currency: str
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    created_at: datetime
    finalized_at: datetime | None
    due_at: datetime | None
    lines: tuple[InvoiceLine, ...] = ()

    def summary_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "number": self.number,
            "customer_id": str(self.customer_id),
            "period": self.period.strftime("%Y-%m"),
            "status": self.status,
            "currency": self.currency,
            "total_cents": cents(self.total),
            "created_at": iso_utc(self.created_at),
            "finalized_at": iso_utc(self.finalized_at),
            "due_at": iso_utc(self.due_at),
        }

    def detail_json(self) -> dict[str, Any]:
        return self.summary_json() | {
            "subtotal_cents": cents(self.subtotal),
            "discount_cents": cents(self.discount),
            "tax_cents": cents(self.tax),
            "lines": [line.as_json() for line in self.lines],
        }


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: tuple[Invoice, ...]
    next_cursor: str | None

    def as_json(self) -> dict[str, Any]:
        return {"items": [item.summary_json() for item in self.items], "next_cursor": self.next_cursor}
