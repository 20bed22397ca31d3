"""``POST /webhooks/stripe``: Stripe's word on our charges, verified, applied once per event.

* **Verified**: ``Stripe-Signature`` is checked against the raw body with the
  signing secret of our webhook endpoint (Secrets Manager in the cloud) by the
  SDK (``StripeClient.construct_event``, i.e. ``stripe.Webhook.construct_event``),
  which also refuses a timestamp more than five minutes old. Anything else is
  ``400`` and changes nothing.
* **Once**: the event's id is inserted into ``stripe_events`` in the
  transaction that applies it; a replayed (or concurrently redelivered) event
  finds its id and changes nothing.
* **Whose**: a PaymentIntent names our records only through what we gave it.
  Its attempt is found by the PaymentIntent's id, or by the invoice and attempt
  in its metadata when our own call did not learn the id (a decline may not
  name it); either way the PaymentIntent's Stripe customer must be the one
  recorded for that attempt's tenant, and the metadata's customer id that
  tenant. An event naming nothing of ours is acknowledged and ignored.
* **What**: ``payment_intent.succeeded`` and ``payment_intent.payment_failed``
  record the attempt's outcome when our own call could not
  (``payments.outcomes``: whichever of the two comes second changes nothing).
  A success Stripe reports for an attempt recorded as failed (the customer
  completed an authentication later, say) overturns it: the invoice is paid.
  Every other event type is acknowledged (``200``) and ignored.

The handler runs as the operator role with the actor ``system:stripe``: moving
an invoice is an operator transaction's, and the tenant is known only from
our records.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import stripe

from chalicelib.core import db
from chalicelib.core.errors import BadRequest
from chalicelib.core.money import CENT
from chalicelib.core.observability import logger
from chalicelib.core.periods import utc_now
from chalicelib.payments import outcomes, repository, stripe_client
from chalicelib.payments.models import ChargeResult

WEBHOOK_ACTOR = "system:stripe"
SUCCEEDED = "payment_intent.succeeded"
FAILED = "payment_intent.payment_failed"
HANDLED = frozenset({SUCCEEDED, FAILED})
_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9_]{1,250}$")
_INTENT_ID = re.compile(r"^pi_[A-Za-z0-9_]{1,250}$")
MAX_PAYLOAD_BYTES = 512 * 1024


def receive(payload: bytes, signature: str | None, *, as_of: datetime | None = None) -> None:
    """Verify and apply one delivery; ``BadRequest`` when it is not Stripe's (signature, shape)."""
    if not payload or len(payload) > MAX_PAYLOAD_BYTES:
        raise BadRequest("Not a Stripe event")
    try:
        event = stripe_client.construct_event(payload, signature).to_dict()
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Invalid Stripe-Signature") from exc
    except (AttributeError, TypeError, KeyError) as exc:  # signed, but JSON that is no event object (a list...)
        raise BadRequest("Not a Stripe event") from exc
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id) or not isinstance(event_type, str):
        raise BadRequest("Not a Stripe event")
    effects = None
    with db.operator_transaction(actor=WEBHOOK_ACTOR) as conn:
        if not repository.record_event(conn, event_id, event_type):
            logger.info("stripe event replayed: ignored", extra={"stripe_event": event_id})
            return
        if event_type in HANDLED:
            data = event.get("data")
            intent = data.get("object") if isinstance(data, dict) else None
            if isinstance(intent, dict):
                effects = _apply(conn, event_type, intent, as_of or utc_now())
    if effects is not None:
        effects.fire()


def _apply(conn: db.Connection, event_type: str, intent: dict[str, Any], as_of: datetime) -> outcomes.Effects | None:
    intent_id = intent.get("id")
    if not isinstance(intent_id, str) or not _INTENT_ID.match(intent_id):
        return None
    found = intent.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    invoice_id, attempt = _uuid(metadata.get("invoice_id")), _int(metadata.get("attempt"))
    row = repository.attempt_for_intent(conn, intent_id, invoice_id, attempt)
    if row is None or intent.get("customer") != row["stripe_customer_id"]:
        logger.info("stripe event for no charge of ours: ignored", extra={"payment_intent": intent_id})
        return None
    named = metadata.get("customer_id")
    if named is not None and named != str(row["customer_id"]):
        logger.warning(
            "stripe event names another tenant than its charge: ignored", extra={"payment_intent": intent_id}
        )
        return None
    repository.lock_for_charge(conn, row["invoice_id"])  # the order of every invoice change: invoice row first
    if event_type == SUCCEEDED:
        _check_amount(intent, row["amount"], intent_id)
        result = ChargeResult("succeeded", intent_id)
    else:
        error = intent.get("last_payment_error")
        code = error.get("code") if isinstance(error, dict) else None
        result = ChargeResult("failed", intent_id, code if isinstance(code, str) else "card_declined")
    if row["status"] == "pending":
        _, effects = outcomes.record(
            conn,
            invoice_id=row["invoice_id"],
            customer_id=row["customer_id"],
            attempt=row["attempt"],
            amount=row["amount"],
            result=result,
            as_of=as_of,
        )
        return effects
    repository.name_intent(conn, row["invoice_id"], row["attempt"], intent_id)
    if row["status"] == "failed" and event_type == SUCCEEDED:
        return outcomes.overturn(
            conn,
            invoice_id=row["invoice_id"],
            customer_id=row["customer_id"],
            attempt=row["attempt"],
            amount=row["amount"],
            payment_intent_id=intent_id,
        )
    return None  # Stripe confirms what our own call already recorded


def _check_amount(intent: dict[str, Any], amount: Any, intent_id: str) -> None:
    charged = intent.get("amount")
    if charged != int(amount / CENT):
        logger.error(
            "stripe charged another amount than the attempt's",
            extra={"payment_intent": intent_id, "charged_cents": charged, "attempt_amount": str(amount)},
        )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 6 else None
