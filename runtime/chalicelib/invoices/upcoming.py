"""``GET /invoices/upcoming``: the current period's invoice as if the period ended now, and a forecast.

One source of truth for prices: the customer's row is the billing run's own
shape (:func:`chalicelib.billing.repository.usage_of_customer`, read from the
monthly totals ingestion keeps, so it costs the same for ten events or ten
million) and it is priced by the run's own function
(:func:`chalicelib.billing.service.price_customer`). When the period ends, the
run bills exactly what this showed at the period's last moment.

The forecast projects each metric's usage to the end of the period at its run
rate so far, then prices the projection the same way (:data:`FORECAST_METHOD`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

from chalicelib.billing import repository as billing_repository
from chalicelib.billing.pricing import AmountOutOfRange
from chalicelib.billing.service import price_customer
from chalicelib.core import db
from chalicelib.core.errors import NotFound, Unprocessable
from chalicelib.core.money import EXACT, cents
from chalicelib.core.periods import Period, utc_now
from chalicelib.invoices.models import ForecastResponse, InvoiceLineResponse, UpcomingInvoiceResponse

FORECAST_METHOD = (
    "run rate: each metric's usage so far, divided by the time elapsed in the period since billing started"
    " (at least one day), is extended over the time remaining and added to the usage so far (so never below"
    " it); the projected usage is priced like the billing run"
)
# A run rate over minutes would project wildly: the first day counts as a whole day.
MIN_ELAPSED = timedelta(days=1)
QUANTITY_SCALE = Decimal("0.000001")  # usage's storage scale


def upcoming_invoice(customer_id: uuid.UUID, *, as_of: datetime | None = None) -> UpcomingInvoiceResponse:
    """The invoice of the period containing ``as_of`` (default now) for the usage recorded so far.

    Raises
    ------
    NotFound
        The customer's billing starts after this period (nothing would be billed).
    Unprocessable
        The usage cannot be priced (an amount too large to store; the run would set the customer aside).
    """
    as_of = as_of or utc_now()
    period = Period.containing(as_of)
    with db.tenant_transaction(customer_id) as conn:
        customer = billing_repository.usage_of_customer(conn, customer_id, period.first_day)
    if customer is None:
        raise NotFound("Customer not found")
    try:
        priced = price_customer(customer, period)
    except AmountOutOfRange as exc:
        raise Unprocessable(f"This period's usage cannot be priced: {exc}") from exc
    if priced is None:
        raise NotFound(f"No upcoming invoice: billing starts on {customer.billing_start.isoformat()}")
    projected = project_usage(customer.usage, period=period, billing_start=customer.billing_start, as_of=as_of)
    try:
        forecast = price_customer(customer, period, projected)
    except AmountOutOfRange:  # the projection, not the usage, is too large: show what is certain
        forecast = None
    forecast_total = priced.total if forecast is None else forecast.total
    return UpcomingInvoiceResponse(
        customer_id=customer.customer_id,
        period=period.first_day,
        status="draft",
        currency="USD",
        subtotal_cents=cents(priced.subtotal),
        discount_cents=cents(priced.discount),
        tax_cents=cents(priced.tax),
        total_cents=cents(priced.total),
        lines=[
            InvoiceLineResponse.model_validate(
                {
                    "description": line.description,
                    "metric_code": line.metric_code,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                }
            )
            for line in priced.lines
        ],
        created_at=as_of,
        as_of=as_of,
        period_ends_at=period.ends_at,
        forecast=ForecastResponse(total_cents=cents(max(forecast_total, priced.total)), method=FORECAST_METHOD),
    )


def project_usage(
    usage: Mapping[str, Decimal], *, period: Period, billing_start: date, as_of: datetime
) -> dict[str, Decimal]:
    """Each metric's usage at the end of ``period`` if it goes on at its rate so far (never below it).

    The rate is measured from the later of the period's start and the customer's billing start,
    over at least :data:`MIN_ELAPSED`; quantities are rounded half up to usage's scale.
    """
    start = max(period.starts_at, datetime.combine(billing_start, time(), UTC))
    elapsed = max(as_of - start, MIN_ELAPSED)
    remaining = max(period.ends_at - as_of, timedelta(0))
    elapsed_us, remaining_us = elapsed // timedelta(microseconds=1), remaining // timedelta(microseconds=1)
    projected: dict[str, Decimal] = {}
    with localcontext(EXACT):
        for metric, used in usage.items():
            more = (used * remaining_us / elapsed_us).quantize(QUANTITY_SCALE, rounding=ROUND_HALF_UP)
            projected[metric] = max(used, used + more)
    return projected
