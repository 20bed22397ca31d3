"""Storage of usage: one call per batch into ``ingest_usage_events`` (migrations 0020, 0042, 0043), monthly and daily totals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.core.db import Connection, single_row
from chalicelib.core.errors import Unprocessable

INGEST_BATCH = "SELECT accepted, error_index, error_reason, alerts_fired FROM ingest_usage_events(%(events)s::jsonb)"

# Row-level security confines ``customers`` to the caller's own row, and with
# it the usage and the tier prices joined to it.
MONTHLY_USAGE = """
SELECT tp.metric_code AS metric, tp.included_units AS included, coalesce(um.quantity, 0) AS quantity
  FROM customers c
  JOIN tier_prices tp ON tp.tier_code = c.tier_code
  LEFT JOIN usage_monthly um
         ON um.customer_id = c.id AND um.period = %(period)s AND um.metric_code = tp.metric_code
 ORDER BY tp.metric_code
"""

# Row-level security confines usage_events to the tenant's rows; ``period`` selects the month's
# one partition, and the tenant's rows in it come from its (customer_id, metric_code) index.
# Days are UTC days, as months are (``period`` is the event's UTC month).
DAILY_USAGE = """
SELECT metric_code AS metric, date_trunc('day', occurred_at AT TIME ZONE 'UTC')::date AS date,
       sum(quantity) AS quantity
  FROM usage_events
 WHERE period = %(period)s
 GROUP BY metric_code, date_trunc('day', occurred_at AT TIME ZONE 'UTC')
 ORDER BY metric_code, date
"""


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    accepted: int
    error_index: int | None
    error_reason: str | None
    # The usage alerts this batch made fire, claimed in the same statement (migration 0042;
    # the alerts area reads them). Empty for almost every batch.
    alerts_fired: list[dict[str, str]]


def encode_batch(rows: list[list[str]]) -> str:
    """The statement's parameter: one ``[event_id, metric, quantity, timestamp]`` row per event, as JSON text.

    The batch travels as one JSON text parameter (quantities and timestamps as
    strings, parsed exactly by PostgreSQL): far cheaper than adapting four
    Python lists element by element.
    """
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"))


def insert_batch(conn: Connection, events: str) -> BatchOutcome:
    """Insert a batch (:func:`encode_batch`'s text) for the connection's tenant in one round trip; nothing is written on error.

    The same statement keeps the monthly totals and claims the usage alerts
    the new totals reach (``alerts_fired``).
    """
    try:
        row = single_row(conn.execute(INGEST_BATCH, {"events": events}))  # each of its paths returns one row
    except (pg_errors.NumericValueOutOfRange, pg_errors.CheckViolation) as exc:
        if exc.diag.table_name == "usage_events" and exc.diag.constraint_name is None:
            # "no partition found for row": the month was detached by the retention job while this
            # batch ran (migration 0043), the same refusal as a batch arriving after it.
            raise Unprocessable("An event's month is past the usage retention and no longer accepts events") from exc
        # usage_monthly_quantity_bound (migration 0030): 10^10 per customer, metric and month.
        raise Unprocessable("The month's total for a metric would exceed 10^10 units") from exc
    return BatchOutcome(row["accepted"], row["error_index"], row["error_reason"], row["alerts_fired"] or [])


def monthly_usage(conn: Connection, period_start: date) -> list[dict[str, Any]]:
    """Per metric of the tenant's tier: ``metric``, used ``quantity`` in the month and ``included`` units."""
    return conn.execute(MONTHLY_USAGE, {"period": period_start}).fetchall()


def daily_usage(conn: Connection, period_start: date) -> list[dict[str, Any]]:
    """The tenant's usage per metric and UTC day of the month: ``metric``, ``date``, ``quantity`` (days with events)."""
    return conn.execute(DAILY_USAGE, {"period": period_start}).fetchall()
