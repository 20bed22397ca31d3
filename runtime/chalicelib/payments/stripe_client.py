"""Stripe, as the payments area uses it: one ``stripe.StripeClient`` per call, a breaker, our own terms.

Every call builds its client from the settings (the secret key, and locally
``STRIPE_API_BASE``: localstripe), so nothing is configured globally and a test
can point the process elsewhere between two calls. The secret key and the
webhook signing secret come from Secrets Manager in the cloud (cached five
minutes) and from plain variables locally; a value that is not a key of its
kind (the placeholder CDK creates until someone sets it) means payments are
not configured.

Stripe's answers become three kinds of outcome:

* an **outage** (no connection, a timeout, a 5xx, Stripe rate-limiting us, or
  our key refused): :class:`StripeUnavailable`, a ``core.aws.DependencyUnavailable``
  for ``stripe``, which a route answers ``503`` with ``Retry-After`` and a job
  treats as "leave the invoice due". It opens a breaker: for
  ``core.aws.COOLDOWN_S`` every call fails at once instead of waiting again;
* a **refusal** of the request (an unknown payment method, a card refused at
  attach): :class:`StripeRefused`, which the service turns into a ``422``;
* a **decline** when charging: a :class:`ChargeResult` with ``status="failed"``.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid

import stripe
from botocore.exceptions import BotoCoreError, ClientError
from stripe.params import SetupIntentCreateParams

from chalicelib.core import aws
from chalicelib.core.cache import LocalCache
from chalicelib.core.observability import dependency_degraded, logger
from chalicelib.core.settings import get_settings
from chalicelib.payments.models import Card, ChargeResult

SERVICE = "stripe"
CONNECT_TIMEOUT_S = 3.0
# A confirmed PaymentIntent answers after the card network did: give it time, within a request's 29 s.
READ_TIMEOUT_S = 15.0
SECRET_MAX_AGE_S = 300.0
SECRET_KEY_PREFIXES = ("sk_", "rk_")
WEBHOOK_SECRET_PREFIX = "whsec_"


class StripeUnavailable(aws.DependencyUnavailable):
    """Stripe cannot serve now (or payments are not configured): retry later, never a 500."""

    def __init__(self, cause: BaseException | None = None) -> None:
        super().__init__(SERVICE, cause)


class StripeRefused(Exception):
    """Stripe refused the request itself (``code`` as Stripe names it, e.g. ``resource_missing``)."""

    def __init__(self, message: str, code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _Breaker:
    """Open for ``aws.COOLDOWN_S`` after an outage: then calls fail at once (the pattern of ``core.aws``)."""

    def __init__(self) -> None:
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        if time.monotonic() < self._open_until:
            raise StripeUnavailable()

    def trip(self, error: BaseException) -> StripeUnavailable:
        with self._lock:
            self._open_until = time.monotonic() + aws.COOLDOWN_S
        logger.warning(
            "circuit breaker opened",
            extra={"dependency": SERVICE, "cooldown_s": aws.COOLDOWN_S, "error": f"{type(error).__name__}"},
        )
        dependency_degraded(SERVICE, "breaker_opened", error)
        return StripeUnavailable(error)

    def reset(self) -> None:
        self._open_until = 0.0


_breaker = _Breaker()
_secrets: LocalCache[str, str] = LocalCache(ttl=SECRET_MAX_AGE_S, max_entries=4)


def reset() -> None:
    """Close the breaker and forget cached secrets (tests end an injected outage or change keys)."""
    _breaker.reset()
    _secrets.clear()


def is_outage(error: stripe.StripeError) -> bool:
    """Whether Stripe could not serve (as opposed to answering this request with a refusal or a decline)."""
    if isinstance(error, (stripe.APIConnectionError, stripe.RateLimitError, stripe.AuthenticationError)):
        return True
    return isinstance(error, stripe.APIError) or (error.http_status or 0) >= 500


def _fetch(secret_id: str) -> str:
    try:
        value: str = aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as exc:
        raise StripeUnavailable(exc) from exc
    return value


def _configured(local: str | None, secret_id: str | None, prefixes: tuple[str, ...], what: str) -> str:
    value = local or (_secrets.get_or_load(secret_id, _fetch) if secret_id else None)
    if not value or not value.strip().startswith(prefixes):
        logger.error("payments are not configured", extra={"missing": what})
        raise StripeUnavailable()
    return value.strip()


def secret_key() -> str:
    """The Stripe secret key; ``StripeUnavailable`` when it is not set (yet)."""
    settings = get_settings()
    return _configured(settings.stripe_api_key, settings.stripe_secret_id, SECRET_KEY_PREFIXES, "secret key")


def webhook_secret() -> str:
    """The signing secret of our Stripe webhook endpoint; ``StripeUnavailable`` when it is not set (yet)."""
    settings = get_settings()
    return _configured(
        settings.stripe_webhook_secret, settings.stripe_webhook_secret_id, (WEBHOOK_SECRET_PREFIX,), "webhook secret"
    )


@functools.cache
def _http_client() -> stripe.HTTPClient:
    """One HTTP client per process (its connections are reused); short timeouts, unlike the SDK's 80 s."""
    return stripe.RequestsClient(timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))


def client() -> stripe.StripeClient:
    """A client for one call: the current key and API base (localstripe locally, Stripe's own in the cloud)."""
    _breaker.check()
    base = get_settings().stripe_api_base
    return stripe.StripeClient(
        secret_key(),
        base_addresses={"api": base} if base else None,
        max_network_retries=1,
        http_client=_http_client(),
    )


def _outage_or_raise(error: stripe.StripeError) -> None:
    """Trip the breaker for an outage; otherwise turn the error into a :class:`StripeRefused`."""
    if is_outage(error):
        raise _breaker.trip(error) from error
    raise StripeRefused(error.user_message or str(error), error.code) from error


def create_customer(*, customer_id: uuid.UUID, name: str, email: str) -> str:
    """A Stripe customer for our tenant; the idempotency key is the tenant's, so a retry never makes two."""
    try:
        created = client().v1.customers.create(
            params={"name": name, "email": email, "metadata": {"customer_id": str(customer_id)}},
            options={"idempotency_key": f"customer-{customer_id}"},
        )
    except stripe.StripeError as error:
        _outage_or_raise(error)
        raise
    return created.id


def payment_method(payment_method_id: str) -> Card:
    """The card ``payment_method_id`` names; ``StripeRefused`` when it is unknown or not a card."""
    try:
        found = client().v1.payment_methods.retrieve(payment_method_id)
    except stripe.StripeError as error:
        _outage_or_raise(error)
        raise
    return _card(found)


def attach(payment_method_id: str, stripe_customer_id: str) -> Card:
    """Attach the card to the Stripe customer (a card refused at attach is ``StripeRefused``)."""
    try:
        attached = client().v1.payment_methods.attach(payment_method_id, params={"customer": stripe_customer_id})
    except stripe.StripeError as error:
        _outage_or_raise(error)
        raise
    return _card(attached)


def set_default(stripe_customer_id: str, payment_method_id: str) -> None:
    """Make the card the Stripe customer's default for invoices (what the dashboard shows)."""
    try:
        client().v1.customers.update(
            stripe_customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}}
        )
    except stripe.StripeError as error:
        _outage_or_raise(error)
        raise


def setup_intent(stripe_customer_id: str) -> str:
    """A SetupIntent for a card form (saved for charges made off-session); its client secret."""
    try:
        params: SetupIntentCreateParams = {"customer": stripe_customer_id, "usage": "off_session"}
        intent = client().v1.setup_intents.create(params=params)
    except stripe.StripeError as error:
        _outage_or_raise(error)
        raise
    if intent.client_secret is None:
        raise StripeRefused("Stripe returned a SetupIntent without a client secret", None)
    return intent.client_secret


def charge(
    *,
    stripe_customer_id: str,
    payment_method_id: str,
    amount_cents: int,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, str],
) -> ChargeResult:
    """Charge the saved card now, the customer absent (``off_session``); a decline is a result, not an error.

    ``StripeUnavailable`` when Stripe cannot say: the caller repeats the same
    ``idempotency_key`` later, and Stripe answers with this charge's outcome.
    """
    try:
        intent = client().v1.payment_intents.create(
            params={
                "amount": amount_cents,
                "currency": currency.lower(),
                "customer": stripe_customer_id,
                "payment_method": payment_method_id,
                "off_session": True,
                "confirm": True,
                "metadata": metadata,
            },
            options={"idempotency_key": idempotency_key},
        )
    except stripe.CardError as error:
        declined = error.error.payment_intent if error.error is not None else None
        return ChargeResult("failed", declined.id if declined is not None else None, error.code or "card_declined")
    except stripe.StripeError as error:
        if is_outage(error):
            raise _breaker.trip(error) from error
        # Refused outright (the card was detached, the customer deleted...): a failed attempt like a decline.
        return ChargeResult("failed", None, error.code or type(error).__name__)
    if intent.status == "succeeded":
        return ChargeResult("succeeded", intent.id)
    if intent.status in ("processing", "requires_capture"):
        return ChargeResult("pending", intent.id)
    # requires_action (the bank wants the customer present), requires_payment_method (declined): failed.
    code = intent.last_payment_error.code if intent.last_payment_error is not None else None
    return ChargeResult("failed", intent.id, code or intent.status)


def construct_event(payload: bytes, signature: str | None) -> stripe.Event:
    """The event in ``payload`` after checking its ``Stripe-Signature`` (``SignatureVerificationError``, ``ValueError``)."""
    # StripeClient.construct_event is stripe.Webhook.construct_event with this client's requestor (typed).
    return stripe.StripeClient(secret_key()).construct_event(payload, signature, webhook_secret())


def _card(found: stripe.PaymentMethod) -> Card:
    card = found.card
    if found.type != "card" or card is None:
        raise StripeRefused("The payment method is not a card", "payment_method_unsupported")
    customer = found.customer
    return Card(
        payment_method_id=found.id,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        stripe_customer_id=customer if isinstance(customer, str) or customer is None else customer.id,
    )
