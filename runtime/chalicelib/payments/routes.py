"""The card routes (``/billing/...``), Stripe's webhook, the operator's dunning run and the daily dunning job."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice import Blueprint, Cron

from chalicelib.core import context, contract
from chalicelib.core.errors import Unprocessable
from chalicelib.core.http import route
from chalicelib.core.observability import logger
from chalicelib.core.periods import utc_now
from chalicelib.core.settings import get_settings
from chalicelib.payments import dunning, service, stripe_webhooks
from chalicelib.payments.models import (
    DunningRunBody,
    DunningRunResponse,
    PaymentMethodBody,
    PaymentMethodResponse,
    SetupIntentResponse,
    StripeWebhookResponse,
)

bp = Blueprint(__name__)

DUNNING_JOB = contract.PAYMENTS_DUNNING.name
# An operator's run "now" may name a moment a little off the server's clock; beyond it, only locally.
AS_OF_SLACK = timedelta(minutes=5)
# How far the local stack may simulate: dunning's retries span 15 days; a year is plenty.
SIMULATED_DAYS = timedelta(days=366)
# A request answers within API Gateway's 29 s: what a run through it does not reach, the job charges.
ROUTE_BUDGET_S = 20.0


@route(
    bp,
    "/billing/setup-intent",
    method="POST",
    auth="customer",
    response=SetupIntentResponse,
    summary="A SetupIntent for a card form, with the publishable key",
    tags=("payments",),
    errors=(401, 403, 503),
)
def create_setup_intent() -> SetupIntentResponse:
    return service.create_setup_intent(context.current_customer_id())


@route(
    bp,
    "/billing/payment-method",
    method="POST",
    auth="customer",
    body=PaymentMethodBody,
    response=PaymentMethodResponse,
    summary="Make a card the default payment method (and charge what is owed with it at once)",
    tags=("payments",),
    errors=(400, 401, 403, 422, 503),
)
def attach_payment_method(body: PaymentMethodBody) -> PaymentMethodResponse:
    return service.attach_payment_method(context.current_customer_id(), body)


@route(
    bp,
    "/billing/payment-method",
    auth="customer",
    response=PaymentMethodResponse,
    summary="The default payment method",
    tags=("payments",),
    errors=(401, 403, 404),
)
def get_payment_method() -> PaymentMethodResponse:
    return service.get_payment_method(context.current_customer_id())


@route(
    bp,
    "/webhooks/stripe",
    method="POST",
    auth=None,
    response=StripeWebhookResponse,
    summary="Stripe's events (verified by Stripe-Signature; a replayed event changes nothing)",
    tags=("payments",),
    errors=(400, 503),
)
def stripe_webhook() -> StripeWebhookResponse:
    request = bp.current_request
    raw = request.raw_body or b""  # the signature is over the bytes exactly as sent
    stripe_webhooks.receive(raw.encode() if isinstance(raw, str) else raw, request.headers.get("stripe-signature"))
    return StripeWebhookResponse(received=True)


@route(
    bp,
    "/admin/payments/dunning-runs",
    method="POST",
    auth="operator",
    body=DunningRunBody,
    response=DunningRunResponse,
    summary="Charge the invoices that are due now (what the daily dunning job does)",
    tags=("payments",),
    errors=(400, 401, 403, 422),
)
def create_dunning_run(body: DunningRunBody) -> DunningRunResponse:
    now = utc_now()
    as_of = body.as_of or now
    if abs(as_of - now) > AS_OF_SLACK and get_settings().stage != contract.LOCAL_STAGE:
        raise Unprocessable("as_of: only the local stack charges as of another moment than now")
    if not now - AS_OF_SLACK <= as_of <= now + SIMULATED_DAYS:
        raise Unprocessable("as_of: between now and a year from now")
    report = dunning.run(as_of, budget_s=ROUTE_BUDGET_S, actor=context.current_actor())
    return DunningRunResponse(
        as_of=report.as_of,
        attempted=report.attempted,
        succeeded=report.succeeded,
        failed=report.failed,
        uncollectible=report.uncollectible,
        stripe_unavailable=report.stripe_unavailable,
    )


@bp.schedule(
    Cron(30, 3, "*", "*", "?", "*"),
    name=DUNNING_JOB,
    description="Daily, 03:30 UTC: charge finalized invoices that are due (first charges left over, dunning retries)",
)
def payments_dunning_job(event: Any) -> dict[str, Any]:
    report = dunning.run()
    result = dunning.summary(report)
    logger.info("dunning run done", extra=result)
    if report.errors:
        raise RuntimeError(f"dunning: {report.errors} invoice(s) could not be charged; see the log")
    return result
