"""Bulk data for the benchmark, written as superuser with set-based SQL (fast, and behind RLS's back).

Every generator is deterministic for a given ``seed`` label so that two runs
measure the same shapes of data.

Usage events (10,000,000 at ``--scale 10``) are written by PostgreSQL itself
(``INSERT ... SELECT FROM generate_series``, nothing crosses the wire but the
customer ids), through the parent table ``usage_events`` (the month's
partition is created first, as the daily job would have), each with its
idempotency key in ``usage_event_keys`` as ingestion writes it (migration
0043), with ``session_replication_role = replica`` so that the foreign-key
checks per row (customer, metric: 60 % of the insert) are skipped: every id
comes from ``customers`` and every metric code from the catalog, so they hold
by construction. Each customer's events are
written together, as one ``POST /metrics`` batch would be, in the customers'
own (random) id order: index inserts then touch one leaf region per customer
instead of one per event, which is what makes 10M events take minutes, not
tens of minutes, while the heap stays uncorrelated with ``customer_id`` as
real traffic leaves it. Their timestamps are spread over the month.
``usage_monthly``, the running totals that ingestion keeps, is then recomputed
from the events, so the two agree exactly as after real ingestion.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import LiteralString

import psycopg

CREATE_CUSTOMERS = """
INSERT INTO customers (id, name, email, tier_code, billing_start_date)
SELECT md5(%(seed)s || g)::uuid, 'Bench ' || g, 'bench-' || %(seed)s || '-' || g || '@example.test',
       (ARRAY['starter', 'growth', 'enterprise'])[1 + g %% 3], %(start)s::date
  FROM generate_series(1, %(n)s) AS g
RETURNING id
"""

# Events spread evenly over the given customers (each customer's together, see the docstring) and over
# the month's ``seconds``; ``lo``..``hi`` is this statement's slice of 1..n (slices are written concurrently).
EVENTS = """
SELECT c.ids[1 + ((g - 1) * c.n / %(n)s)] AS customer_id,
       %(seed)s || '-' || g AS event_id,
       CASE WHEN g %% 10 = 0 THEN 'compliance_scans' ELSE 'api_calls' END AS metric_code,
       1 + (g %% 5) AS quantity,
       %(period)s::timestamptz + ((g * 104729) %% %(seconds)s) * interval '1 second' AS occurred_at,
       %(period)s::date AS period
  FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g,
       (SELECT %(customers)s::uuid[] AS ids, cardinality(%(customers)s::uuid[]) AS n) AS c
"""
# The same rows twice (generating them is ~5 % of writing them): the keys, then the events.
CREATE_EVENT_KEYS = (
    "INSERT INTO usage_event_keys (customer_id, event_id, period) SELECT customer_id, event_id, period FROM ("
    + EVENTS
    + ") AS e"
)
CREATE_EVENTS = (
    "INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)"
    " SELECT customer_id, event_id, metric_code, quantity, occurred_at, period FROM (" + EVENTS + ") AS e"
)

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


def create_events(
    admin_url: str, customers: list[uuid.UUID], n: int, *, period: str, seed: str, workers: int = 2
) -> None:
    """``n`` usage events in ``period`` (``YYYY-MM-01``) spread over ``customers``; usage_monthly refreshed.

    ``workers`` connections each write a contiguous slice (whole customers, give or take the edges).
    """
    first = date.fromisoformat(period)
    seconds = 86400 * calendar.monthrange(first.year, first.month)[1]
    params = {"seed": seed, "n": n, "period": period, "seconds": seconds, "customers": customers}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SELECT usage_partition_create(%s)", (first,))  # the month's partition (migration 0043)
    bounds = [1 + n * w // workers for w in range(workers + 1)]
    slices = [params | {"lo": lo, "hi": hi - 1} for lo, hi in itertools.pairwise(bounds) if hi > lo]
    with ThreadPoolExecutor(max_workers=len(slices)) as pool:
        list(pool.map(functools.partial(_insert_events, admin_url), slices))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(REFRESH_MONTHLY, params)
        conn.execute("VACUUM ANALYZE usage_events")
        conn.execute("VACUUM ANALYZE usage_event_keys")
        conn.execute("VACUUM ANALYZE usage_monthly")


def _insert_events(admin_url: str, params: dict[str, object]) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no foreign-key checks: see the docstring
        conn.execute(CREATE_EVENT_KEYS, params)
        conn.execute(CREATE_EVENTS, params)


def create_invoices(admin_url: str, customers: list[uuid.UUID], per_customer: int, *, seed: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        count = conn.execute(
            CREATE_INVOICES, {"seed": seed, "per_customer": per_customer, "customers": customers}
        ).rowcount
        conn.execute("VACUUM ANALYZE invoices")
    return count
