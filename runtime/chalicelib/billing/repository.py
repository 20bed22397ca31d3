"""Storage for the billing run's invoices. Every function runs on the caller's (operator) transaction.

Reads are one aggregation query (usage per customer and metric, with each
customer's prices), streamed a chunk of customers at a time through a
server-side cursor so the run's memory does not grow with the number of
customers, plus, per chunk, those customers' existing invoices; writes are
set-based (``INSERT ... SELECT FROM unnest(...)``), never a statement per
customer. Arrays of ids and text go in binary (``%b``): psycopg's text format
escapes every element in Python, which at 100,000 invoices cost more than
the statements themselves; numeric arrays stay in text (exact decimal strings).
The run's locks and its own record (``billing_runs``) are :mod:`chalicelib.billing.run_repository`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
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

# The aggregation's hash tables and sort fit in memory at 100,000 customers (about 25 MB; the
# default 4 MB spills them to disk); for the lock transaction only (set_config(..., true)).
AGGREGATION_WORK_MEM = "SELECT set_config('work_mem', '64MB', true)"

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

# A chunk's customers' invoices of the period, with the lines of the drafts (for the "keep or
# recompute" comparison), in one statement: invoices_period_idx, then per draft the lines' unique
# index (LATERAL: a plain join would hash every line of the table).
EXISTING_INVOICES = """
SELECT i.id, i.customer_id, i.number, i.status, i.tier_code, i.tax_rate, i.subtotal, i.discount, i.tax, i.total,
       l.description, l.metric_code, l.quantity, l.unit_price, l.amount
  FROM invoices i
  LEFT JOIN LATERAL (
      SELECT * FROM invoice_lines WHERE invoice_id = i.id AND i.status = 'draft' ORDER BY position
  ) l ON true
 WHERE i.period = %(period)s AND i.customer_id = ANY(%(customer_ids)b::uuid[])
 ORDER BY i.id, l.position
"""

# Gap-free numbering per customer and year (migration 0033): each customer's
# counter row is locked until this transaction commits, and the numbers are
# used in the same transaction (or rolled back with it). Customers are taken
# in id order, so two transactions never wait on each other's rows in a cycle.
ALLOCATE_NUMBERS = """
INSERT INTO invoice_number_counters_by_customer AS c (customer_id, year, last_value)
SELECT customer_id, %(year)s, 1 FROM unnest(%(customer_ids)b::uuid[]) AS u(customer_id) ORDER BY customer_id
ON CONFLICT (customer_id, year) DO UPDATE SET last_value = c.last_value + 1
RETURNING customer_id, last_value
"""

INSERT_INVOICES = """
INSERT INTO invoices (id, customer_id, number, period, status, tier_code, tax_rate, subtotal, discount, tax, total,
                      billing_run_id)
SELECT u.id, u.customer_id, u.number, %(period)s, 'draft', u.tier_code, u.tax_rate, u.subtotal, u.discount, u.tax,
       u.total, %(run_id)s
  FROM unnest(%(ids)b::uuid[], %(customer_ids)b::uuid[], %(numbers)b::text[], %(tier_codes)b::text[],
              %(tax_rates)s::numeric[], %(subtotals)s::numeric[], %(discounts)s::numeric[], %(taxes)s::numeric[],
              %(totals)s::numeric[])
       AS u(id, customer_id, number, tier_code, tax_rate, subtotal, discount, tax, total)
"""

UPDATE_DRAFTS = """
UPDATE invoices i
   SET tier_code = u.tier_code, tax_rate = u.tax_rate, subtotal = u.subtotal, discount = u.discount, tax = u.tax,
       total = u.total, billing_run_id = %(run_id)s, updated_at = now()
  FROM unnest(%(ids)b::uuid[], %(tier_codes)b::text[], %(tax_rates)s::numeric[], %(subtotals)s::numeric[],
              %(discounts)s::numeric[], %(taxes)s::numeric[], %(totals)s::numeric[])
       AS u(id, tier_code, tax_rate, subtotal, discount, tax, total)
 WHERE i.id = u.id AND i.status = 'draft'
"""

DELETE_LINES = "DELETE FROM invoice_lines WHERE invoice_id = ANY(%(ids)b::uuid[])"

# One array per column, in this order (a line's fields, as replace_lines lists them).
INSERT_LINES = """
INSERT INTO invoice_lines (invoice_id, customer_id, position, description, metric_code, quantity, unit_price, amount)
SELECT * FROM unnest(%b::uuid[], %b::uuid[], %b::integer[], %b::text[], %b::text[], %s::numeric[], %s::numeric[],
                     %s::numeric[])
"""

FINALIZE = """
UPDATE invoices
   SET status = 'finalized', finalized_at = now(), due_at = now() + make_interval(days => %(terms_days)s),
       updated_at = now()
 WHERE id = ANY(%(ids)b::uuid[]) AND status = 'draft'
RETURNING id, customer_id, number, due_at
"""

PERIODS_WITH_DUE_DRAFTS = """
SELECT DISTINCT period FROM invoices WHERE status = 'draft' AND created_at <= %(cutoff)s ORDER BY period
"""


# An existing invoice's columns, as EXISTING_INVOICES names them (its lines come from the rows after).
INVOICE_FIELDS = tuple(f.name for f in dataclasses.fields(ExistingInvoice) if f.name != "lines")


def usage_by_customer(conn: Connection, period_start: date, last_day: date) -> list[CustomerUsage]:
    """Every billable customer's usage, in the run's order (all at once: for tests and small periods)."""
    return [customer for batch in usage_batches(conn, period_start, last_day, 1000) for customer in batch]


def usage_batches(
    conn: Connection, period_start: date, last_day: date, batch_size: int
) -> Iterator[list[CustomerUsage]]:
    """The run's aggregation, ``batch_size`` customers at a time, in its order (one statement, one snapshot).

    A server-side cursor on ``conn``'s transaction: PostgreSQL computes the
    aggregation once and the run holds about one batch of rows at a time.
    """
    conn.execute(AGGREGATION_WORK_MEM)
    with conn.cursor(name="billing_usage") as cursor:
        cursor.execute(USAGE_BY_CUSTOMER, {"period": period_start, "last_day": last_day})
        rows: list[dict[str, Any]] = []
        customers: list[CustomerUsage] = []
        while fetched := cursor.fetchmany(2 * batch_size):
            rows += fetched
            # The last customer's rows may go on in the next fetch: hold them back until then.
            cut = len(rows)
            while cut > 0 and rows[cut - 1]["customer_id"] == rows[-1]["customer_id"]:
                cut -= 1
            customers += customers_from_rows(rows[:cut])
            rows = rows[cut:]
            while len(customers) >= batch_size:
                yield customers[:batch_size]
                customers = customers[batch_size:]
        customers += customers_from_rows(rows)
        if customers:
            yield customers


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


def existing_invoices(
    conn: Connection, period_start: date, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ExistingInvoice]:
    """These customers' invoices of the period, by customer (a draft with its lines, in order)."""
    rows = conn.execute(EXISTING_INVOICES, {"period": period_start, "customer_ids": list(customer_ids)}).fetchall()
    invoices: dict[uuid.UUID, ExistingInvoice] = {}
    lines: list[Line] = []
    for index, row in enumerate(rows):  # ordered by invoice, then line
        if row["description"] is not None:
            lines.append(
                Line(row["description"], row["metric_code"], row["quantity"], row["unit_price"], row["amount"])
            )
        if index + 1 == len(rows) or rows[index + 1]["id"] != row["id"]:
            invoice = {key: row[key] for key in INVOICE_FIELDS}
            invoices[row["customer_id"]] = ExistingInvoice(**invoice, lines=tuple(lines))
            lines = []
    return invoices


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
    rows = [
        (p.invoice_id, p.customer.customer_id, n, ln.description, ln.metric_code, ln.quantity, ln.unit_price, ln.amount)
        for p in planned
        for n, ln in enumerate(p.priced.lines, start=1)
    ]
    if rows:
        conn.execute(INSERT_LINES, [list(column) for column in zip(*rows, strict=True)])


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
