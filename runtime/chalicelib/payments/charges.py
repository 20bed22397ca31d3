"""Charging one invoice: claim an attempt, call Stripe with no transaction open, record the outcome.

1. **Claim** (a short operator transaction holding the invoice's row lock):
   decide whether the invoice is to be charged at all (finalized or
   uncollectible, unpaid, at least :data:`MINIMUM_CHARGE`, its customer has a
   card), then insert ``payment_attempts`` row *n* (``pending``, with a lease of
   :data:`LEASE_S`) and mark the invoice ``payment_status = 'pending'``. A
   ``pending`` attempt whose lease ended is claimed again with the *same*
   number and card; one still leased is someone else's, in flight.
2. **Call** Stripe (``stripe_client.charge``) with the idempotency key
   ``invoice-<id>-attempt-<n>``: repeating an attempt repeats the same
   request, which Stripe answers with the first one's outcome, so a retried
   job, a crashed process or two deciders never charge twice.
3. **Record** the outcome (``payments.outcomes``) in a second operator
   transaction, and fire its effects after the commit.

Stripe unreachable at step 2: the lease is released, the attempt stays
``pending`` (its outcome unknown) and the invoice stays due; the next run repeats
it. Nothing of a claim is lost when the process dies anywhere: what it claimed
is repeated once the lease has run out.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from chalicelib.core import db
from chalicelib.core.money import cents
from chalicelib.core.observability import logger
from chalicelib.invoices import lifecycle
from chalicelib.payments import outcomes, repository, stripe_client
from chalicelib.payments.models import ChargeReport, Claim, Outcome

# Stripe's smallest charge in US dollars: an invoice below it is not charged (an operator settles it).
MINIMUM_CHARGE = Decimal("0.50")
# How long a claimed attempt belongs to its process: longer than any Stripe call may take.
LEASE_S = 300.0
PAYMENTS_ACTOR = "system:payments"


def charge_invoice(invoice_id: uuid.UUID, *, as_of: datetime, actor: str) -> Outcome:
    """Charge ``invoice_id`` if it is to be charged now; ``skipped`` when it is not (or is in flight).

    Raises ``stripe_client.StripeUnavailable`` when Stripe could not be asked: the invoice stays due.
    """
    claim = _claim(invoice_id, actor)
    if claim is None:
        return "skipped"
    try:
        result = stripe_client.charge(
            stripe_customer_id=claim.stripe_customer_id,
            payment_method_id=claim.payment_method_id,
            amount_cents=cents(claim.amount),
            currency=claim.currency,
            idempotency_key=claim.idempotency_key,
            metadata={
                "invoice_id": str(claim.invoice_id),
                "invoice_number": claim.number,
                "customer_id": str(claim.customer_id),
                "attempt": str(claim.attempt),
            },
        )
    except stripe_client.StripeUnavailable:
        _release(claim, actor)
        raise
    with db.operator_transaction(actor=actor) as conn:
        repository.lock_for_charge(conn, invoice_id)
        outcome, effects = outcomes.record(
            conn,
            invoice_id=claim.invoice_id,
            customer_id=claim.customer_id,
            attempt=claim.attempt,
            amount=claim.amount,
            result=result,
            as_of=as_of,
        )
    effects.fire()
    logger.info(
        "invoice charged",
        extra={
            "invoice_id": str(invoice_id),
            "attempt": claim.attempt,
            "outcome": outcome,
            "code": result.failure_code,
        },
    )
    return outcome


def charge_many(
    invoice_ids: Iterable[uuid.UUID], *, as_of: datetime, actor: str, report: ChargeReport, deadline: float | None
) -> None:
    """Charge each invoice in turn until done, the ``deadline`` (monotonic) or Stripe's outage (counted in ``report``).

    One invoice's unexpected failure is logged and counted (``report.errors``), never stops the others.
    """
    for invoice_id in invoice_ids:
        if deadline is not None and time.monotonic() > deadline:
            report.out_of_time = True
            return
        try:
            report.count(charge_invoice(invoice_id, as_of=as_of, actor=actor))
        except stripe_client.StripeUnavailable:
            report.stripe_unavailable = True
            return
        except Exception:  # noqa: BLE001 - the next invoices still get charged; the job fails at the end
            logger.exception("charging an invoice failed", extra={"invoice_id": str(invoice_id)})
            report.errors += 1


def _claim(invoice_id: uuid.UUID, actor: str) -> Claim | None:
    with db.operator_transaction(actor=actor) as conn:
        row = repository.lock_for_charge(conn, invoice_id)
        if (
            row is None
            or row["status"] not in lifecycle.PAYABLE
            or row["payment_status"] == "succeeded"
            or row["total"] < MINIMUM_CHARGE
            or row["stripe_customer_id"] is None
        ):
            return None
        latest = repository.latest_attempt(conn, invoice_id)
        if latest is not None and latest["status"] == "succeeded":
            return None
        if latest is not None and latest["status"] == "pending":
            if latest["in_flight"]:
                return None
            # Its outcome is unknown: ask again, the same request (same number, same card).
            attempt: int = latest["attempt"]
            payment_method: str = latest["stripe_payment_method_id"]
            repository.reclaim_attempt(conn, invoice_id, attempt, lease_s=LEASE_S)
        else:
            if row["default_payment_method_id"] is None:
                return None
            attempt = (latest["attempt"] if latest is not None else 0) + 1
            payment_method = row["default_payment_method_id"]
            repository.insert_attempt(
                conn,
                {
                    "customer": row["customer_id"],
                    "invoice": invoice_id,
                    "attempt": attempt,
                    "pm": payment_method,
                    "amount": row["total"],
                    "currency": row["currency"],
                },
                lease_s=LEASE_S,
            )
        repository.invoice_pending(conn, invoice_id, attempt)
        return Claim(
            invoice_id=invoice_id,
            customer_id=row["customer_id"],
            number=row["number"],
            attempt=attempt,
            amount=row["total"],
            currency=row["currency"].strip(),
            stripe_customer_id=row["stripe_customer_id"],
            payment_method_id=payment_method,
        )


def _release(claim: Claim, actor: str) -> None:
    """Stripe could not be asked: the attempt's outcome is unknown; it is repeated by the next run."""
    try:
        with db.operator_transaction(actor=actor) as conn:
            repository.release_attempt(conn, claim.invoice_id, claim.attempt)
    except Exception:  # noqa: BLE001 - the lease runs out by itself
        logger.exception("could not release a payment attempt", extra={"invoice_id": str(claim.invoice_id)})
