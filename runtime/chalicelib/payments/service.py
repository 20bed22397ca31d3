"""A tenant's card: the Stripe customer behind it, the SetupIntent for a card form, the default card.

The Stripe customer is created the first time it is needed (a SetupIntent or
a card) and recorded in ``payment_customers``; its creation's idempotency key
is our customer id, so a retried request never makes two. Stripe is called
with no transaction open: a slow Stripe never holds a database connection.
Stripe unreachable: ``StripeUnavailable`` (``503`` + ``Retry-After``); a card
Stripe refuses (unknown, another customer's, declined on attach): ``422``.

A new card becomes the default at Stripe and here, and at once charges every
invoice the customer still owes (``dunning.retry_customer``): the answer
describes the card whatever those charges did.
"""

from __future__ import annotations

import uuid

from chalicelib.audit import recorder
from chalicelib.core import context, db
from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings
from chalicelib.payments import dunning, repository, stripe_client
from chalicelib.payments.models import Card, PaymentMethodBody, PaymentMethodResponse, SetupIntentResponse


def get_payment_method(customer_id: uuid.UUID) -> PaymentMethodResponse:
    """The default card (from our records: no call to Stripe); 404 when there is none."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.payment_customer(conn, customer_id)
    if row is None or row["default_payment_method_id"] is None:
        raise NotFound("No payment method on file")
    return PaymentMethodResponse.model_validate(row)


def create_setup_intent(customer_id: uuid.UUID) -> SetupIntentResponse:
    """A SetupIntent for the tenant's Stripe customer: a card form confirms it with the publishable key."""
    publishable_key = get_settings().stripe_publishable_key
    if not publishable_key.startswith("pk_"):  # cdk.json's stripe_publishable_key is not set yet
        logger.error("payments are not configured", extra={"missing": "publishable key"})
        raise stripe_client.StripeUnavailable()
    client_secret = stripe_client.setup_intent(_stripe_customer(customer_id))
    return SetupIntentResponse(client_secret=client_secret, publishable_key=publishable_key)


def attach_payment_method(customer_id: uuid.UUID, body: PaymentMethodBody) -> PaymentMethodResponse:
    """Make the card the tenant's default (attaching it to its Stripe customer), then charge what is owed."""
    stripe_customer = _stripe_customer(customer_id)
    try:
        card = stripe_client.payment_method(body.payment_method_id)
        if card.stripe_customer_id is not None and card.stripe_customer_id != stripe_customer:
            raise Unprocessable("payment_method_id: this payment method belongs to another customer")
        if card.stripe_customer_id is None:
            card = stripe_client.attach(card.payment_method_id, stripe_customer)
        stripe_client.set_default(stripe_customer, card.payment_method_id)
    except stripe_client.StripeRefused as refused:
        raise Unprocessable(f"payment_method_id: the payment method cannot be used ({refused.message})") from refused
    with db.tenant_transaction(customer_id) as conn:
        repository.set_card(conn, customer_id, card)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="payment_method.attached",
            target_type="payment_method",
            target_id=card.payment_method_id,
            detail={"brand": card.brand, "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year},
        )
    dunning.retry_customer(customer_id, actor=context.current_actor())
    return _response(card)


def _stripe_customer(customer_id: uuid.UUID) -> str:
    """The tenant's Stripe customer id, created (and recorded, audited) on first need."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.payment_customer(conn, customer_id)
        profile = repository.profile(conn, customer_id)
    if row is not None:
        existing: str = row["stripe_customer_id"]
        return existing
    if profile is None:  # the guard authenticated this tenant: its row is visible
        raise NotFound("Customer not found")
    try:
        created = stripe_client.create_customer(customer_id=customer_id, name=profile["name"], email=profile["email"])
    except stripe_client.StripeRefused as refused:
        raise Unprocessable(f"Stripe refused to create the customer ({refused.message})") from refused
    with db.tenant_transaction(customer_id) as conn:
        inserted = repository.insert_payment_customer(conn, customer_id, created)
        row = repository.payment_customer(conn, customer_id)
        if row is None:
            raise NotFound("Customer not found")
        if inserted:
            recorder.record(
                conn,
                customer_id=customer_id,
                action="payment_customer.created",
                target_type="payment_customer",
                target_id=created,
                detail={"stripe_customer_id": created},
            )
    recorded: str = row["stripe_customer_id"]
    return recorded


def _response(card: Card) -> PaymentMethodResponse:
    return PaymentMethodResponse(brand=card.brand, last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year)
