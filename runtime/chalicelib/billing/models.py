"""Shapes of the billing run: the request, what the aggregation returns, what a run plans and reports."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, StrictBool

from chalicelib.billing.pricing import Line, PricedInvoice
from chalicelib.catalog.prices import Plan
from chalicelib.core.models import Cents, RequestModel, ResponseModel

Action = Literal["create", "recompute", "keep", "frozen"]


class BillingRunRequest(RequestModel):
    period: str = Field(max_length=32, description="The month to bill, YYYY-MM; it must have ended")
    finalize: StrictBool = Field(default=False, description="Freeze the invoices and queue their e-mails")


# A customer the run could not price (and therefore did not invoice), and why.
class SetAsideResponse(ResponseModel):
    customer_id: uuid.UUID
    reason: str


# What a run did: the API's answer, and also the ``billing_run.finished`` audit event's detail and log line.
class BillingRunResponse(ResponseModel):
    period: str
    invoices_created: int
    invoices_existing: int
    total_cents: Cents = Field(description="Sum of the period's invoice totals after the run")
    run_id: uuid.UUID
    finalize: bool
    invoices_recomputed: int = Field(description="Drafts whose amounts changed (late usage)")
    invoices_finalized: int
    customers_set_aside: int = Field(
        default=0,
        description="Customers whose invoice could not be priced (amount too large to store): not"
        " invoiced by this run, listed in set_aside, audited and counted in the"
        " BillingCustomersSetAside metric; every other customer is billed",
    )
    set_aside: list[SetAsideResponse] = Field(default_factory=list)

    @property
    def total(self) -> Decimal:
        """The same sum in dollars, as ``billing_runs`` stores it (exact: every invoice total is whole cents)."""
        return Decimal(self.total_cents).scaleb(-2)


@dataclass(frozen=True, slots=True)
class CustomerUsage:
    """One customer's row of the run's aggregation: who, at what prices, how much was used."""

    customer_id: uuid.UUID
    name: str
    email: str
    tax_rate: Decimal
    billing_start: date
    plan: Plan
    usage: dict[str, Decimal] = field(hash=False)


@dataclass(frozen=True, slots=True)
class ExistingInvoice:
    id: uuid.UUID
    customer_id: uuid.UUID
    number: str
    status: str
    tier_code: str
    tax_rate: Decimal
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[Line, ...]  # loaded for drafts only (finalized ones are never compared)

    def same_content(self, tier_code: str, tax_rate: Decimal, priced: PricedInvoice) -> bool:
        return (self.tier_code, self.tax_rate, self.subtotal, self.discount, self.tax, self.total, self.lines) == (
            tier_code,
            tax_rate,
            priced.subtotal,
            priced.discount,
            priced.tax,
            priced.total,
            priced.lines,
        )


@dataclass(slots=True)
class PlannedInvoice:
    """What a run does for one customer: create, recompute a draft, keep a draft as is, or leave a frozen one."""

    customer: CustomerUsage
    priced: PricedInvoice
    action: Action
    invoice_id: uuid.UUID
    number: str | None
    previous_total: Decimal | None = None

    @property
    def total(self) -> Decimal:
        """What the customer owes for the period after this run (a frozen invoice keeps its own total)."""
        if self.action == "frozen" and self.previous_total is not None:
            return self.previous_total
        return self.priced.total


@dataclass(frozen=True, slots=True)
class AbandonedRun:
    """A run whose process ended before it recorded an outcome, as the next run of its period found it."""

    id: uuid.UUID
    finalize: bool
    started_by: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class FinalizedInvoice:
    id: uuid.UUID
    customer_id: uuid.UUID
    number: str
    due_at: Any


@dataclass(frozen=True, slots=True)
class DailyReport:
    periods_finalized: tuple[str, ...]
    emails_sent: int
    emails_failed: int
