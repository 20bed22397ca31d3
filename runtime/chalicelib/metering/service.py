"""Usage metering rules: validating a batch, ingesting it idempotently, reading a month.

Quantities are exact decimals: a JSON number (parsed as ``Decimal`` by the
route, never float) or a numeric string such as ``"2.5"``; at most 6 decimal
places (the storage scale: we never round a customer's usage) and below
:data:`MAX_QUANTITY` (10^9) per event. A customer's total per metric and month
is bounded too (:data:`MAX_MONTHLY_QUANTITY`, 10^10, enforced by the database
in the ingesting statement): with the catalog's prices the largest possible
invoice then stays far below what ``numeric(14, 2)`` holds, so one customer's
usage can never make its invoice unpriceable. Anything else — a boolean, null, ``"abc"``, NaN, a negative — is a 422 that
names the event. Event indexes are 0-based positions in ``events``.

The batch's size (1-1000, else 413) and its strings (nothing PostgreSQL
cannot store, else 400) are checked once, where the request body is parsed
(``MetricsBatch`` and ``core.http``), not again here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from chalicelib.alerts import service as alerts
from chalicelib.audit import recorder
from chalicelib.catalog.prices import billable_units
from chalicelib.core import db
from chalicelib.core.errors import Unprocessable
from chalicelib.core.periods import Period, parse_period, utc_now
from chalicelib.core.text import is_identifier
from chalicelib.metering import repository
from chalicelib.metering.models import (
    DailyUsageResponse,
    IngestResponse,
    MetricUsageResponse,
    UsageEventIn,
    UsageResponse,
)

FUTURE_TOLERANCE = timedelta(minutes=5)
# Billing periods start in 1970; older timestamps are typos, and a far-away
# offset could even turn into a BC date in PostgreSQL.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Bounds that keep every invoice storable (docs/BILLING.md, "Limits"); the
# monthly one is the CHECK constraint of migration 0030.
MAX_QUANTITY = Decimal(10) ** 9
MAX_MONTHLY_QUANTITY = Decimal(10) ** 10
QUANTITY_SCALE = Decimal("0.000001")
_MAX_INT_QUANTITY = 10**9  # MAX_QUANTITY as an int
_NUMERIC_STRING = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,4})?\s*$")
_REASONS = {
    "unknown_metric": "unknown metric",
    "period_finalized": "its billing period is already invoiced and finalized",
    # Past the usage retention (metering.partitions): the month is archived, or older still.
    "period_archived": "its month is past the usage retention and no longer accepts events",
}


def ingest(customer_id: uuid.UUID, events: Sequence[UsageEventIn], *, now: datetime | None = None) -> IngestResponse:
    """Record the events of a parsed batch (``MetricsBatch``: 1-1000 events) for ``customer_id``, all or nothing.

    Returns how many were new and how many were duplicates (of an event in
    this batch or an earlier one). Raises ``Unprocessable`` naming the first
    offending event. An accepted batch is one ``usage.ingested`` audit event
    with its counts (not one per event). Usage alerts the batch makes fire are
    claimed by the same statement and followed up by ``alerts.service``.
    """
    batch = statement_events(events, now or utc_now())
    with db.tenant_transaction(customer_id) as conn:
        outcome = repository.insert_batch(conn, batch)
        if outcome.error_index is not None:  # raised inside: the transaction rolls back
            index = outcome.error_index
            reason = _REASONS.get(outcome.error_reason or "", outcome.error_reason)
            raise Unprocessable(
                f"events[{index}]: {reason} ({events[index].metric!r}, {events[index].timestamp.isoformat()})"
            )
        result = IngestResponse(accepted=outcome.accepted, duplicates=len(events) - outcome.accepted)
        # The alerts this batch made fire: e-mail and webhook queued with the claim, in this transaction.
        firings = alerts.record_firings(conn, customer_id, outcome.alerts_fired)
        # Last in the transaction: the chain's lock is held only until the commit that follows.
        recorder.record(
            conn,
            customer_id=customer_id,
            action="usage.ingested",
            target_type="usage_batch",
            detail={"events": len(events), "accepted": result.accepted, "duplicates": result.duplicates},
        )
    alerts.after_commit(firings)
    return result


def usage_for_period(
    customer_id: uuid.UUID, period: str | None, *, daily: bool = False, now: datetime | None = None
) -> UsageResponse:
    """Used, included and billable quantity per metric for one month (default: the current one).

    With ``daily``, each metric also gets its usage per UTC day (the days with
    events), summed from the month's events right after the totals are read
    (``usage_monthly``, kept by the same statements that store the events): the
    days add up to the total, give or take a batch committed between the two reads.
    """
    month = parse_period(period) if period is not None else Period.containing(now or utc_now())
    days: dict[str, list[DailyUsageResponse]] = {}
    with db.tenant_transaction(customer_id) as conn:
        rows = repository.monthly_usage(conn, month.first_day)
        if daily:
            for day in repository.daily_usage(conn, month.first_day):
                days.setdefault(day["metric"], []).append(DailyUsageResponse.model_validate(day))
    metrics = [
        MetricUsageResponse.model_validate(
            {
                **row,
                "billable": billable_units(row["quantity"], row["included"]),
                "daily": days.get(row["metric"], []) if daily else None,
            }
        )
        for row in rows
    ]
    return UsageResponse(period=month.label, metrics=metrics)


def parse_quantity(value: object) -> Decimal:
    """A usage quantity as an exact ``Decimal``; ``ValueError`` with the reason when it is not one."""
    if isinstance(value, bool) or value is None:
        raise ValueError("quantity must be a number")
    if isinstance(value, Decimal):
        quantity = value
    elif isinstance(value, int):
        quantity = Decimal(value)
    elif isinstance(value, float):  # only when a caller bypassed the exact JSON parser
        quantity = Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= 64 and _NUMERIC_STRING.match(value):
        try:
            quantity = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError("quantity must be a number") from exc
    else:
        raise ValueError("quantity must be a number")
    if not quantity.is_finite():
        raise ValueError("quantity must be a finite number")
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    if quantity >= MAX_QUANTITY:
        raise ValueError("quantity must be below 10^9")
    exponent = quantity.as_tuple().exponent  # an int: the letters ("n", "N", "F") are NaN and infinity's
    if isinstance(exponent, int) and exponent < -6 and quantity != quantity.quantize(QUANTITY_SCALE):
        raise ValueError("quantity has more than 6 decimal places")
    return quantity + 0  # normalizes -0 to 0


def statement_events(events: Sequence[UsageEventIn], now: datetime) -> str:
    """The batch as the ingestion statement's JSON text, validated on the way (``Unprocessable`` names the event).

    One pass over the events: each is checked (metric, then quantity, then
    timestamp, the first offending event wins) and turned into its row at
    once, instead of collecting columns and walking them again to encode them.
    The common cases take shortcuts that give what the general path gives: a
    metric already seen in the batch was already checked, and a JSON integer
    in range is its own exact decimal text (``str(Decimal(n)) == str(n)``).
    Timestamps go as UTC (see :func:`_in_utc`).
    """
    latest = (now + FUTURE_TOLERANCE).astimezone(UTC)
    checked_metrics: set[str] = set()
    rows: list[list[str]] = []
    for index, event in enumerate(events):
        metric = event.metric
        if metric not in checked_metrics:
            if not is_identifier(metric):
                raise Unprocessable(f"events[{index}]: unknown metric")
            checked_metrics.add(metric)
        value = event.quantity
        if type(value) is int and 0 <= value < _MAX_INT_QUANTITY:  # not a bool: type(True) is bool
            quantity = str(value)
        else:
            try:
                quantity = str(parse_quantity(value))
            except ValueError as exc:
                raise Unprocessable(f"events[{index}]: {exc}") from exc
        moment = _in_utc(event.timestamp)
        if moment > latest:
            raise Unprocessable(f"events[{index}]: timestamp is more than 5 minutes in the future")
        if moment < EARLIEST:
            raise Unprocessable(f"events[{index}]: timestamp is before 1970")
        rows.append([event.event_id, metric, quantity, moment.isoformat()])
    return repository.encode_batch(rows)


def _in_utc(moment: datetime) -> datetime:
    """``moment`` converted to ``datetime.UTC`` (the same instant), or as it is when it cannot be.

    Converted once, it is compared and formatted without its zone's offset
    being asked again (two aware datetimes sharing one ``tzinfo`` compare
    directly), and it goes to PostgreSQL as UTC, which also keeps out offsets
    beyond +-15:59 that PostgreSQL refuses and Python accepts (such as
    +23:59). Only a moment at the very ends of ``datetime``'s range cannot be
    converted; it is outside 1970 to now, so the comparisons refuse it.
    """
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return moment
