"""Storage for the billing run's invoices. Every function runs on the caller's (operator) transaction.

Reads are one aggregation query (usage per customer and metric, with each
customer's prices) plus the period's existing invoices; writes are set-based
(``INSERT ... SELECT FROM unnest(...)``), never a statement per customer.
The run's locks and its own record (``billing_runs``) are :mod:`chalicelib.billing.run_repository`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.billing.models import CustomerUsage, ExistingInvoice, FinalizedInvoice, PlannedInvoice
from chalicelib.billing.pricing import Line
from chalicelib.catalog.prices import MetricRate, Plan
from chalicelib.core.db import Connection
from chalicelib.core.errors import Conflict

# The run's one aggregation: usage of the period per (customer, metric),
# joined to every customer billable in the period and the prices of its tier.
# One row per customer and priced metric (zero usage included).
USAGE_BY_CUSTOMER = """
WITH usage AS (
    SELECT customer_id, metric_code, sum(quantity) AS quantity
      FROM usage_events
     WHERE period = %(period)s
     GROUP BY customer_id, metric_code
)
SELECT c.id AS customer_id, c.name, c.email, c.tax_rate, c.billing_start_date,
       t.code AS tier_code, t.name AS tier_name, t.base_fee,
       tp.metric_code, m.name AS metric_name, tp.included_units, tp.unit_price,
       coalesce(u.quantity, 0) AS quantity
  FROM customers c
  JOIN tiers t ON t.code = c.tier_code
  JOIN tier_prices tp ON tp.tier_code = c.tier_code
  JOIN metrics m ON m.code = tp.metric_code
  LEFT JOIN usage u ON u.customer_id = c.id AND u.metric_code = tp.metric_code
 WHERE c.billing_start_date <= %(last_day)s
 ORDER BY c.created_at, c.id, tp.metric_code
"""

# The same rows for the tenant of a tenant transaction, from the running monthly totals that
# ingestion keeps (usage_monthly: one row per metric, however many events): the upcoming invoice.
USAGE_OF_TENANT = """
SELECT c.id AS customer_id, c.name, c.email, c.tax_rate, c.billing_start_date,
       t.code AS tier_code, t.name AS tier_name, t.base_fee,
       tp.metric_code, m.name AS metric_name, tp.included_units, tp.unit_price,
       coalesce(um.quantity, 0) AS quantity
  FROM customers c
  JOIN tiers t ON t.code = c.tier_code
  JOIN tier_prices tp ON tp.tier_code = c.tier_code
  JOIN metrics m ON m.code = tp.metric_code
  LEFT JOIN usage_monthly um
         ON um.customer_id = c.id AND um.period = %(period)s AND um.metric_code = tp.metric_code
 WHERE c.id = %(customer_id)s
 ORDER BY tp.metric_code
"""

EXISTING_INVOICES = """
SELECT id, customer_id, number, status, tier_code, tax_rate, subtotal, discount, tax, total
  FROM invoices WHERE period = %(period)s
"""

EXISTING_DRAFT_LINES = """
SELECT l.invoice_id, l.description, l.metric_code, l.quantity, l.unit_price, l.amount
  FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
 WHERE i.period = %(period)s AND i.status = 'draft'
 ORDER BY l.invoice_id, l.position
"""

# Gap-free numbering per customer and year (migration 0033): each customer's
# counter row is locked until this transaction commits, and the numbers are
# used in the same transaction (or rolled back with it). Customers are taken
# in id order, so two transactions never wait on each other's rows in a cycle.
ALLOCATE_NUMBERS = """
INSERT INTO invoice_number_counters_by_customer AS c (customer_id, year, last_value)
SELECT customer_id, %(year)s, 1 FROM unnest(%(customer_ids)s::uuid[]) AS u(customer_id) ORDER BY customer_id
ON CONFLICT (customer_id, year) DO UPDATE SET last_value = c.last_value + 1
RETURNING customer_id, last_value
"""

INSERT_INVOICES = """
INSERT INTO invoices (id, customer_id, number, period, status, tier_code, tax_rate, subtotal, discount, tax, total,
                      billing_run_id)
SELECT u.id, u.customer_id, u.number, %(period)s, 'draft', u.tier_code, u.tax_rate, u.subtotal, u.discount, u.tax,
       u.total, %(run_id)s
  FROM unnest(%(ids)s::uuid[], %(customer_ids)s::uuid[], %(numbers)s::text[], %(tier_codes)s::text[],
              %(tax_rates)s::numeric[], %(subtotals)s::numeric[], %(discounts)s::numeric[], %(taxes)s::numeric[],
              %(totals)s::numeric[])
       AS u(id, customer_id, number, tier_code, tax_rate, subtotal, discount, tax, total)
"""

UPDATE_DRAFTS = """
UPDATE invoices i
   SET tier_code = u.tier_code, tax_rate = u.tax_rate, subtotal = u.subtotal, discount = u.discount, tax = u.tax,
       total = u.total, billing_run_id = %(run_id)s, updated_at = now()
  FROM unnest(%(ids)s::uuid[], %(tier_codes)s::text[], %(tax_rates)s::numeric[], %(subtotals)s::numeric[],
              %(discounts)s::numeric[], %(taxes)s::numeric[], %(totals)s::numeric[])
       AS u(id, tier_code, tax_rate, subtotal, discount, tax, total)
 WHERE i.id = u.id AND i.status = 'draft'
"""

DELETE_LINES = "DELETE FROM invoice_lines WHERE invoice_id = ANY(%(ids)s::uuid[])"

INSERT_LINES = """
INSERT INTO invoice_lines (invoice_id, customer_id, position, description, metric_code, quantity, unit_price, amount)
SELECT * FROM unnest(%(invoice_ids)s::uuid[], %(customer_ids)s::uuid[], %(positions)s::integer[],
                     %(descriptions)s::text[], %(metric_codes)s::text[], %(quantities)s::numeric[],
                     %(unit_prices)s::numeric[], %(amounts)s::numeric[])
"""

FINALIZE = """
UPDATE invoices
   SET status = 'finalized', finalized_at = now(), due_at = now() + make_interval(days => %(terms_days)s),
       updated_at = now()
 WHERE id = ANY(%(ids)s::uuid[]) AND status = 'draft'
RETURNING id, customer_id, number, due_at
"""

PERIODS_WITH_DUE_DRAFTS = """
SELECT DISTINCT period FROM invoices WHERE status = 'draft' AND created_at <= %(cutoff)s ORDER BY period
"""


def usage_by_customer(conn: Connection, period_start: date, last_day: date) -> list[CustomerUsage]:
    rows = conn.execute(USAGE_BY_CUSTOMER, {"period": period_start, "last_day": last_day}).fetchall()
    return customers_from_rows(rows)


def usage_of_customer(conn: Connection, customer_id: uuid.UUID, period_start: date) -> CustomerUsage | None:
    """One customer's row of the run's aggregation, from its monthly totals so far (``None``: not visible)."""
    rows = conn.execute(USAGE_OF_TENANT, {"customer_id": customer_id, "period": period_start}).fetchall()
    customers = customers_from_rows(rows)
    return customers[0] if customers else None


def customers_from_rows(rows: Sequence[dict[str, Any]]) -> list[CustomerUsage]:
    """Rows ordered by customer, then metric (one per customer and priced metric) → one ``CustomerUsage`` each."""
    customers: list[CustomerUsage] = []
    rates: list[MetricRate] = []
    usage: dict[str, Decimal] = {}
    for index, row in enumerate(rows):
        rates.append(MetricRate(row["metric_code"], row["metric_name"], row["included_units"], row["unit_price"]))
        usage[row["metric_code"]] = row["quantity"]
        if index + 1 == len(rows) or rows[index + 1]["customer_id"] != row["customer_id"]:
            plan = Plan(row["tier_code"], row["tier_name"], row["base_fee"], tuple(rates))
            customers.append(
                CustomerUsage(
                    row["customer_id"],
                    row["name"],
                    row["email"],
                    row["tax_rate"],
                    row["billing_start_date"],
                    plan,
                    usage,
                )
            )
            rates, usage = [], {}
    return customers


def existing_invoices(conn: Connection, period_start: date) -> dict[uuid.UUID, ExistingInvoice]:
    lines: dict[uuid.UUID, list[Line]] = {}
    for row in conn.execute(EXISTING_DRAFT_LINES, {"period": period_start}):
        lines.setdefault(row["invoice_id"], []).append(
            Line(row["description"], row["metric_code"], row["quantity"], row["unit_price"], row["amount"])
        )
    return {
        row["customer_id"]: ExistingInvoice(**row, lines=tuple(lines.get(row["id"], ())))
        for row in conn.execute(EXISTING_INVOICES, {"period": period_start})
    }


def allocate_numbers(conn: Connection, year: int, customer_ids: Sequence[uuid.UUID]) -> list[str]:
    """The next number ``INV-<year>-NNNNNN`` of each customer's own gap-free sequence, in the order given.

    A customer has at most one invoice per period, so it appears at most once.
    """
    if not customer_ids:
        return []
    rows = conn.execute(ALLOCATE_NUMBERS, {"year": year, "customer_ids": list(customer_ids)}).fetchall()
    last = {row["customer_id"]: row["last_value"] for row in rows}
    return [f"INV-{year:04d}-{last[customer_id]:06d}" for customer_id in customer_ids]


def insert_invoices(
    conn: Connection, planned: Sequence[PlannedInvoice], *, period_start: date, run_id: uuid.UUID
) -> None:
    if not planned:
        return
    params = _amount_columns(planned) | {
        "period": period_start,
        "run_id": run_id,
        "customer_ids": [p.customer.customer_id for p in planned],
        "numbers": [p.number for p in planned],
    }
    try:
        conn.execute(INSERT_INVOICES, params)
    except pg_errors.UniqueViolation as exc:  # only if the run lock were bypassed
        raise Conflict("An invoice for this customer and period (or number) already exists") from exc


def update_drafts(conn: Connection, planned: Sequence[PlannedInvoice], *, run_id: uuid.UUID) -> None:
    if not planned:
        return
    updated = conn.execute(UPDATE_DRAFTS, _amount_columns(planned) | {"run_id": run_id}).rowcount
    if updated != len(planned):
        raise Conflict("An invoice changed status while the billing run was recomputing it")


def replace_lines(conn: Connection, planned: Sequence[PlannedInvoice], *, clear: Sequence[uuid.UUID]) -> None:
    """Delete the lines of ``clear`` (recomputed drafts), then insert every planned invoice's lines."""
    if clear:
        conn.execute(DELETE_LINES, {"ids": list(clear)})
    columns: dict[str, list[Any]] = {
        key: []
        for key in (
            "invoice_ids",
            "customer_ids",
            "positions",
            "descriptions",
            "metric_codes",
            "quantities",
            "unit_prices",
            "amounts",
        )
    }
    for p in planned:
        for position, line in enumerate(p.priced.lines, start=1):
            columns["invoice_ids"].append(p.invoice_id)
            columns["customer_ids"].append(p.customer.customer_id)
            columns["positions"].append(position)
            columns["descriptions"].append(line.description)
            columns["metric_codes"].append(line.metric_code)
            columns["quantities"].append(line.quantity)
            columns["unit_prices"].append(line.unit_price)
            columns["amounts"].append(line.amount)
    if columns["invoice_ids"]:
        conn.execute(INSERT_LINES, columns)


def finalize(conn: Connection, invoice_ids: Sequence[uuid.UUID], *, terms_days: int) -> list[FinalizedInvoice]:
    if not invoice_ids:
        return []
    rows = conn.execute(FINALIZE, {"ids": list(invoice_ids), "terms_days": terms_days}).fetchall()
    return [FinalizedInvoice(**row) for row in rows]


def periods_with_due_drafts(conn: Connection, cutoff: datetime) -> list[date]:
    return [row["period"] for row in conn.execute(PERIODS_WITH_DUE_DRAFTS, {"cutoff": cutoff})]


def _amount_columns(planned: Sequence[PlannedInvoice]) -> dict[str, list[Any]]:
    return {
        "ids": [p.invoice_id for p in planned],
        "tier_codes": [p.customer.plan.tier_code for p in planned],
        "tax_rates": [p.customer.tax_rate for p in planned],
        "subtotals": [p.priced.subtotal for p in planned],
        "discounts": [p.priced.discount for p in planned],
        "taxes": [p.priced.tax for p in planned],
        "totals": [p.priced.total for p in planned],
    }
