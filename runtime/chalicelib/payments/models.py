"""Shapes of the payments area: the routes' bodies and answers, and what charging decides about an invoice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from chalicelib.core.models import RequestModel, ResponseModel, Timestamp, UtcTimestamp

# Stripe's ids: a prefix, then letters, digits and underscores (what a client-side form hands over).
PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9_]{1,250}$"


class PaymentMethodBody(RequestModel):
    payment_method_id: str = Field(
        pattern=PAYMENT_METHOD_PATTERN,
        max_length=253,
        examples=["pm_1Nx0Yz2eZvKYlo2C"],
        description="A card payment method created client-side with the publishable key",
    )


class PaymentMethodResponse(ResponseModel):
    brand: str = Field(examples=["visa"])
    last4: str = Field(examples=["4242"])
    exp_month: int = Field(ge=1, le=12)
    exp_year: int


class SetupIntentResponse(ResponseModel):
    client_secret: str = Field(description="For the card form (Stripe.js confirmCardSetup)")
    publishable_key: str


class StripeWebhookResponse(ResponseModel):
    received: bool = True


class DunningRunBody(RequestModel):
    as_of: Timestamp | None = Field(
        default=None,
        description="The moment to charge as of (default now). Only the local stack accepts another moment: "
        "it is how a test lives through dunning's days",
    )


class DunningRunResponse(ResponseModel):
    as_of: UtcTimestamp
    attempted: int = Field(description="Charges made (first charges and retries)")
    succeeded: int
    failed: int
    uncollectible: int = Field(description="Invoices whose last retry failed: collection gave up")
    stripe_unavailable: bool = Field(description="Stripe could not be reached: what was left stays due")


@dataclass(frozen=True, slots=True)
class Claim:
    """One attempt to charge an invoice, claimed before Stripe is called (``payment_attempts``)."""

    invoice_id: uuid.UUID
    customer_id: uuid.UUID
    number: str
    attempt: int
    amount: Decimal
    currency: str
    stripe_customer_id: str
    payment_method_id: str

    @property
    def idempotency_key(self) -> str:
        """Stripe's idempotency key: the same attempt always sends the same request, so it charges once."""
        return f"invoice-{self.invoice_id}-attempt-{self.attempt}"


Outcome = Literal["succeeded", "failed", "uncollectible", "pending", "skipped"]


@dataclass(slots=True)
class ChargeReport:
    """What a batch of charges did (the dunning job's answer, a billing run's log line)."""

    as_of: datetime
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    uncollectible: int = 0
    stripe_unavailable: bool = False
    out_of_time: bool = False
    # Invoices whose charge failed unexpectedly (a bug, the database): logged; the job fails at the end.
    errors: int = 0

    def count(self, outcome: Outcome) -> None:
        if outcome == "skipped":
            return
        self.attempted += 1
        if outcome == "succeeded":
            self.succeeded += 1
        elif outcome != "pending":
            self.failed += 1
            if outcome == "uncollectible":
                self.uncollectible += 1


@dataclass(frozen=True, slots=True)
class Card:
    """A card payment method as Stripe describes it (never its number)."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    stripe_customer_id: str | None


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """``pending``: Stripe has not decided yet (its webhook will say)."""

    status: Literal["succeeded", "failed", "pending"]
    payment_intent_id: str | None
    failure_code: str | None = None
