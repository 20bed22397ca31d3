"""Bulk data for the benchmark, written as superuser with set-based SQL (fast, and behind RLS's back).

Every generator is deterministic for a given ``seed`` label so that two runs
measure the same shapes of data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import LiteralString

import psycopg

CREATE_CUSTOMERS = """
INSERT INTO customers (id, name, email, tier_code, billing_start_date)
SELECT md5(%(seed)s || g)::uuid, 'Bench ' || g, 'bench-' || %(seed)s || '-' || g || '@example.test',
       (ARRAY['starter', 'growth', 'enterprise'])[1 + g %% 3], %(start)s::date
  FROM generate_series(1, %(n)s) AS g
RETURNING id
"""

# Events spread evenly over the given customers and over the month.
CREATE_EVENTS = """
INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)
SELECT c.ids[1 + (g %% c.n)],
       %(seed)s || '-' || g,
       CASE WHEN g %% 10 = 0 THEN 'compliance_scans' ELSE 'api_calls' END,
       1 + (g %% 5),
       %(period)s::timestamptz + ((g %% 2592000) || ' seconds')::interval,
       %(period)s::date
  FROM generate_series(1, %(n)s) AS g,
       (SELECT %(customers)s::uuid[] AS ids, cardinality(%(customers)s::uuid[]) AS n) AS c
"""

REFRESH_MONTHLY = """
INSERT INTO usage_monthly (customer_id, period, metric_code, quantity)
SELECT customer_id, period, metric_code, sum(quantity) FROM usage_events
 WHERE period = %(period)s::date AND customer_id = ANY(%(customers)s::uuid[])
 GROUP BY customer_id, period, metric_code
ON CONFLICT (customer_id, period, metric_code) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()
"""

# ``per_customer`` invoices for each customer, one per month going back from 2026-09.
CREATE_INVOICES = """
INSERT INTO invoices (customer_id, number, period, status, tier_code, tax_rate, subtotal, discount, tax, total,
                      finalized_at, due_at)
SELECT c.id, 'BENCH-' || %(seed)s || '-' || row_number() OVER (),
       (date '2026-09-01' - (g || ' months')::interval)::date, 'finalized', c.tier_code, 0.08,
       2000.00, 0, 160.00, 2160.00, now(), now() + interval '30 days'
  FROM customers c CROSS JOIN generate_series(0, %(per_customer)s - 1) AS g
 WHERE c.id = ANY(%(customers)s::uuid[])
"""


def count(conn: psycopg.Connection, query: LiteralString, params: Sequence[object] = ()) -> int:
    """What a ``SELECT count(*) ...`` returns: always exactly one row."""
    row = conn.execute(query, params).fetchone()
    assert row is not None, "count(*) returns one row"
    return int(row[0])


def create_customers(admin_url: str, n: int, *, seed: str, billing_start: str = "2020-01-01") -> list[uuid.UUID]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(CREATE_CUSTOMERS, {"seed": seed, "n": n, "start": billing_start})]


def create_events(admin_url: str, customers: list[uuid.UUID], n: int, *, period: str, seed: str) -> None:
    """``n`` usage events in ``period`` (``YYYY-MM-01``) spread over ``customers``; usage_monthly refreshed."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        params = {"seed": seed, "n": n, "period": period, "customers": customers}
        conn.execute(CREATE_EVENTS, params)
        conn.execute(REFRESH_MONTHLY, params)
        conn.execute("VACUUM ANALYZE usage_events")
        conn.execute("VACUUM ANALYZE usage_monthly")


def create_invoices(admin_url: str, customers: list[uuid.UUID], per_customer: int, *, seed: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        count = conn.execute(
            CREATE_INVOICES, {"seed": seed, "per_customer": per_customer, "customers": customers}
        ).rowcount
        conn.execute("VACUUM ANALYZE invoices")
    return count
