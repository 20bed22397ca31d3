"""What follows a charge's outcome, in the transaction that records it: paid, or the next step of dunning.

    attempt 1 (finalization) -> declined -> retry 3 days later -> 5 days later -> 7 days later -> uncollectible

Both the charging path (``payments.charges``) and Stripe's webhooks
(``payments.stripe_webhooks``) record outcomes here, on an operator
transaction that holds the invoice's row lock. Recording is conditional on the
attempt still being ``pending``: whichever of the two comes second finds it
decided and changes nothing, so an outcome has its effects exactly once.

* **Succeeded**: ``invoices.lifecycle.mark_paid`` (status ``paid``, the amount,
  ``payment_status`` ``succeeded``; audited ``invoice.paid``) and an
  ``invoice.paid`` webhook event. A payment for an invoice that was voided or
  paid otherwise in the meantime is recorded and audited
  (``payment.unapplied``, platform chain) for an operator to refund.
* **Declined**: ``payment_status`` ``failed``, the next attempt
  :data:`RETRY_DELAYS` later (none after the last), an ``invoice.payment_failed``
  audit event, webhook event and e-mail to the customer's contact address.
  After the last retry: ``invoices.lifecycle.mark_uncollectible`` and the
  operator notification: a ``payment.collection_failed`` event on the platform
  chain, an error log line and the ``InvoicesUncollectible`` metric, whose
  alarm e-mails the operators (``stacks/constructs/monitoring.py``).

What must happen after the commit (sending the e-mail and the webhook now,
the metric) is returned as :class:`Effects` for the caller to :meth:`~Effects.fire`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.audit import recorder
from chalicelib.core.db import Connection
from chalicelib.core.money import cents
from chalicelib.core.observability import emit_count, logger
from chalicelib.core.periods import Period
from chalicelib.invoices import lifecycle
from chalicelib.notifications import service as notifications
from chalicelib.payments import emails, repository
from chalicelib.payments.models import ChargeResult, Outcome
from chalicelib.webhooks import events as webhooks

# Days from a declined attempt to the next: the contract's "3, 5 and 7 days later". Four attempts in all.
RETRY_DELAYS: tuple[int, ...] = (3, 5, 7)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
UNCOLLECTIBLE_METRIC = "InvoicesUncollectible"


@dataclass(slots=True)
class Effects:
    """What to do once the outcome is committed: send its e-mail and webhook now, count it."""

    customer_id: uuid.UUID | None = None
    event_ids: list[uuid.UUID | None] = field(default_factory=list)
    notification_ids: list[uuid.UUID] = field(default_factory=list)
    uncollectible: int = 0

    def fire(self) -> None:
        """Best effort: whatever is not sent now, the scheduled deliverers send. Never raises."""
        if self.uncollectible:
            try:
                emit_count(UNCOLLECTIBLE_METRIC, self.uncollectible)
            except Exception:  # noqa: BLE001 - a metric must not undo a committed outcome
                logger.exception("could not emit the uncollectible metric")
        webhooks.send_soon(self.event_ids)
        if self.notification_ids:
            try:
                notifications.deliver_pending(notification_ids=self.notification_ids, include_failed=False)
            except Exception:  # noqa: BLE001 - the notifications job sends it within minutes
                logger.exception("immediate payment e-mail failed; the job will send it")


def next_attempt_at(attempt: int, as_of: datetime) -> datetime | None:
    """When attempt ``attempt + 1`` is due after attempt ``attempt`` failed at ``as_of``; ``None`` after the last."""
    if attempt > len(RETRY_DELAYS):
        return None
    return as_of + timedelta(days=RETRY_DELAYS[attempt - 1])


def record(
    conn: Connection,
    *,
    invoice_id: uuid.UUID,
    customer_id: uuid.UUID,
    attempt: int,
    amount: Decimal,
    result: ChargeResult,
    as_of: datetime,
) -> tuple[Outcome, Effects]:
    """Record attempt ``attempt``'s outcome and everything that follows (the caller locked the invoice)."""
    effects = Effects(customer_id=customer_id)
    if result.status == "pending":
        repository.await_attempt(conn, invoice_id, attempt, result.payment_intent_id)
        return "pending", effects
    status = "succeeded" if result.status == "succeeded" else "failed"
    if not repository.finish_attempt(
        conn,
        invoice_id,
        attempt,
        status=status,
        payment_intent_id=result.payment_intent_id,
        failure_code=result.failure_code,
    ):
        return "skipped", effects  # already decided (a webhook and the charge's own answer both report it)
    invoice = repository.invoice_notice(conn, invoice_id)
    if invoice is None:  # cannot happen: the caller holds its row lock
        raise LookupError(f"invoice {invoice_id} disappeared")
    if status == "succeeded":
        return _paid(conn, invoice, attempt, amount, result.payment_intent_id, effects)
    return _declined(conn, invoice, customer_id, attempt, result.failure_code, as_of, effects)


def overturn(
    conn: Connection,
    *,
    invoice_id: uuid.UUID,
    customer_id: uuid.UUID,
    attempt: int,
    amount: Decimal,
    payment_intent_id: str,
) -> Effects:
    """Stripe says an attempt recorded as failed succeeded after all: it did, and the invoice is paid."""
    effects = Effects(customer_id=customer_id)
    if not repository.overturn_attempt(conn, invoice_id, attempt, payment_intent_id):
        return effects
    invoice = repository.invoice_notice(conn, invoice_id)
    if invoice is None:  # cannot happen: the caller holds its row lock
        raise LookupError(f"invoice {invoice_id} disappeared")
    logger.warning("a failed payment attempt succeeded after all", extra={"invoice_id": str(invoice_id)})
    _paid(conn, invoice, attempt, amount, payment_intent_id, effects)
    return effects


def _paid(
    conn: Connection,
    invoice: dict[str, Any],
    attempt: int,
    amount: Decimal,
    payment_intent_id: str | None,
    effects: Effects,
) -> tuple[Outcome, Effects]:
    reference = payment_intent_id or f"stripe:invoice-{invoice['id']}-attempt-{attempt}"
    if invoice["status"] not in lifecycle.PAYABLE:
        # Voided, or paid another way, while the charge was in flight: the money came anyway.
        logger.error(
            "payment for a closed invoice", extra={"invoice_id": str(invoice["id"]), "status": invoice["status"]}
        )
        recorder.record(
            conn,
            customer_id=None,
            action="payment.unapplied",
            target_type="invoice",
            target_id=invoice["id"],
            detail={
                "number": invoice["number"],
                "status": invoice["status"],
                "amount_cents": cents(amount),
                "reference": reference,
            },
        )
        return "succeeded", effects
    paid = lifecycle.mark_paid(conn, invoice["id"], amount_paid=amount, reference=reference, payment_status="succeeded")
    data = _event_data(paid) | {"amount_paid_cents": cents(amount), "paid_at": paid["paid_at"], "attempt": attempt}
    effects.event_ids.append(
        webhooks.emit(conn, customer_id=paid["customer_id"], event_type=webhooks.INVOICE_PAID, data=data)
    )
    return "succeeded", effects


def _declined(
    conn: Connection,
    invoice: dict[str, Any],
    customer_id: uuid.UUID,
    attempt: int,
    failure_code: str | None,
    as_of: datetime,
    effects: Effects,
) -> tuple[Outcome, Effects]:
    if invoice["status"] not in lifecycle.PAYABLE:
        return "failed", effects  # closed while the charge was in flight: nothing left to collect
    # An uncollectible invoice (a new card tried on it) is not retried again: collection gave up before.
    next_at = next_attempt_at(attempt, as_of) if invoice["status"] == "finalized" else None
    repository.invoice_failed(conn, invoice["id"], next_at)
    detail = {
        "number": invoice["number"],
        "attempt": attempt,
        "failure_code": failure_code,
        "total_cents": cents(invoice["total"]),
        "next_payment_attempt_at": None if next_at is None else next_at.isoformat(),
    }
    recorder.record(
        conn,
        customer_id=customer_id,
        action="invoice.payment_failed",
        target_type="invoice",
        target_id=invoice["id"],
        detail=detail,
    )
    message = emails.payment_failed_message(
        customer_id=customer_id,
        customer_name=invoice["customer_name"],
        recipient=invoice["customer_email"],
        invoice_id=invoice["id"],
        number=invoice["number"],
        period=invoice["period"],
        total=invoice["total"],
        attempt=attempt,
        failure_code=failure_code,
        next_attempt_at=next_at,
    )
    effects.notification_ids.append(notifications.queue_message(conn, message))
    gives_up = invoice["status"] == "finalized" and next_at is None
    data = _event_data(invoice) | {
        "status": "uncollectible" if gives_up else invoice["status"],
        "payment_status": "failed",
        "attempt": attempt,
        "failure_code": failure_code,
        "next_payment_attempt_at": next_at,
    }
    if gives_up:
        lifecycle.mark_uncollectible(conn, invoice["id"])
        _tell_operators(conn, invoice, customer_id, attempt)
        effects.uncollectible += 1
        outcome: Outcome = "uncollectible"
    else:
        outcome = "failed"
    effects.event_ids.append(
        webhooks.emit(conn, customer_id=customer_id, event_type=webhooks.INVOICE_PAYMENT_FAILED, data=data)
    )
    return outcome, effects


def _tell_operators(conn: Connection, invoice: dict[str, Any], customer_id: uuid.UUID, attempt: int) -> None:
    """Collection gave up: the platform chain says so (with the metric's alarm, how operators hear of it)."""
    detail = {
        "customer_id": str(customer_id),
        "number": invoice["number"],
        "attempts": attempt,
        "total_cents": cents(invoice["total"]),
    }
    recorder.record(
        conn,
        customer_id=None,
        action="payment.collection_failed",
        target_type="invoice",
        target_id=invoice["id"],
        detail=detail,
    )
    logger.error(
        "invoice uncollectible after its last payment retry", extra={"invoice_id": str(invoice["id"]), **detail}
    )


def _event_data(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice part of an ``invoice.paid`` / ``invoice.payment_failed`` event (as the billing run's events)."""
    return {
        "id": invoice["id"],
        "number": invoice["number"],
        "period": Period.of(invoice["period"]).label,
        "status": invoice["status"],
        "total_cents": cents(invoice["total"]),
        "payment_status": invoice.get("payment_status"),
    }
