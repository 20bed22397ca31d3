"""``rls_overhead_ratio``: the same tenant-scoped queries with RLS (app role) and without.

Without RLS means the superuser with an explicit ``WHERE customer_id``: the
table owner cannot stand in, because FORCE ROW LEVEL SECURITY applies to it
too. Both sides run alternately in one loop on identical data, on the same
server process (:func:`measure_rls_overhead` says why); the figure is the
ratio of the medians (1.00 = no overhead).

``python -m bench.rls_bench [--quick]`` builds the population ``make bench``
builds (customers, a month of events billed, invoice history) on a fresh
stack and measures this figure alone (``.local/bench-rls.json``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import LiteralString

import psycopg

from bench.harness import Figure, fresh_stack, render, write_json

LIST_INVOICES_RLS = """
SELECT id, number, period, status, total FROM invoices
ORDER BY period DESC, id DESC LIMIT 50
"""
LIST_INVOICES_WHERE = """
SELECT id, number, period, status, total FROM invoices WHERE customer_id = %(customer)s
ORDER BY period DESC, id DESC LIMIT 50
"""
SUM_USAGE_RLS = """
SELECT metric_code, sum(quantity) FROM usage_events WHERE period = %(period)s GROUP BY metric_code
"""
SUM_USAGE_WHERE = """
SELECT metric_code, sum(quantity) FROM usage_events WHERE customer_id = %(customer)s AND period = %(period)s
GROUP BY metric_code
"""


def measure_rls_overhead(
    app_url: str,
    admin_url: str,
    customer_id: uuid.UUID,
    period: str,
    *,
    rounds: int,
    data_size: dict,
    blocks: int = 20,
) -> Figure:
    """Ratio of medians over ``rounds`` alternated samples a side, both sides on one backend per block.

    Each block opens one superuser connection and alternates (the order
    flipped every round) two transactions on it: the RLS side becomes the
    app login for the transaction (``SET LOCAL ROLE``, so row-level security
    applies exactly as to the runtime: same role, same policies) and sets the
    tenant; the other side sets the role to the superuser it connected as,
    sets the same tenant and names it in ``WHERE customer_id``. Each side is
    one statement setting the same two settings, then the two queries.

    Why one backend: the issue-7 method (kept in ``detail.two_connections``)
    ran each side on its own connection, i.e. its own server process. On two
    shared cores the two processes are scheduled unequally for a whole block,
    which biased single blocks by up to +-30% either way (block ratios 0.72 to
    1.18 seen) while the server-side work of the two sides is the same
    (EXPLAIN: planning and execution within 0.02 ms, docs/PERFORMANCE.md).
    One backend serving both sides removes that bias; fresh connections per
    block keep any one backend's state from deciding the figure.
    """
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")  # the population was just written: no checkpoint amid the samples
    with psycopg.connect(app_url, autocommit=True) as conn:
        row = conn.execute("SELECT current_user").fetchone()
        assert row is not None
        app_role = str(row[0])
    params = {"customer": customer_id, "period": period, "tenant": str(customer_id)}
    per_block = max(1, rounds // blocks)
    one = _pooled([_one_backend_block(admin_url, app_role, params, per_block) for _ in range(blocks)])
    two = _pooled([_two_connection_block(app_url, admin_url, params, per_block) for _ in range(blocks)])
    return Figure(
        name="rls_overhead_ratio",
        value=one["ratio"],
        unit="x",
        target="<= 1.05",
        data_size=data_size,
        params={
            "rounds": per_block * blocks,
            "blocks": blocks,
            "queries": ["list invoices (50)", "sum usage for a month"],
            "method": "one backend per block, RLS side as the app login (SET LOCAL ROLE)",
        },
        detail={**one, "two_connections": two},
    )


def _pooled(blocks: list[tuple[list[float], list[float]]]) -> dict:
    """The ratio of the medians of all samples, the two medians, and each block's own ratio.

    ``paired_ratio``: the median of each round's RLS sample over its WHERE sample (taken next to
    each other), a cross-check that load drifting during the run is not what the ratio shows.
    """
    rls = [sample for block, _ in blocks for sample in block]
    where = [sample for _, block in blocks for sample in block]
    ratios = [statistics.median(r) / statistics.median(w) for r, w in blocks]
    return {
        "ratio": round(statistics.median(rls) / statistics.median(where), 3),
        "paired_ratio": round(statistics.median(r / w for r, w in zip(rls, where, strict=True)), 3),
        "rls_median_ms": round(statistics.median(rls), 3),
        "where_median_ms": round(statistics.median(where), 3),
        "block_ratios": [round(r, 3) for r in ratios],
        "block_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
    }


@dataclass(frozen=True)
class _Side:
    """One side of the comparison: a connection, the statement that sets its role and tenant, two queries."""

    conn: psycopg.Connection
    settings: dict[str, str]
    invoices: LiteralString
    usage: LiteralString


SETTINGS = "SELECT set_config('role', %(role)s, true), set_config('app.tenant_id', %(tenant)s, true)"
TENANT_ONLY = "SELECT set_config('app.tenant_id', %(tenant)s, true)"


def _alternate(
    with_rls: _Side, with_where: _Side, settings: LiteralString, params: dict, rounds: int
) -> tuple[list[float], list[float]]:
    """``rounds`` timed transactions a side after a warm-up, alternated, the order flipped every round."""

    def run(side: _Side) -> None:
        with side.conn.transaction():
            side.conn.execute(settings, side.settings)
            side.conn.execute(side.invoices, params).fetchall()
            side.conn.execute(side.usage, params).fetchall()

    rls: list[float] = []
    where: list[float] = []
    warmup = 20
    for i in range(rounds + warmup):
        pair = ((with_rls, rls), (with_where, where)) if i % 2 == 0 else ((with_where, where), (with_rls, rls))
        for side, bucket in pair:
            start = time.perf_counter()
            run(side)
            if i >= warmup:
                bucket.append((time.perf_counter() - start) * 1000)
    return rls, where


def _one_backend_block(admin_url: str, app_role: str, params: dict, rounds: int) -> tuple[list[float], list[float]]:
    """Both sides on one superuser connection: the RLS side as the app login, the other as the superuser.

    Each side names its role (the other side: the superuser, the connection's own login), so both
    pay the same role lookup.
    """
    tenant = params["tenant"]
    with psycopg.connect(admin_url, autocommit=True, prepare_threshold=None) as conn:
        row = conn.execute("SELECT session_user").fetchone()
        assert row is not None
        return _alternate(
            _Side(conn, {"role": app_role, "tenant": tenant}, LIST_INVOICES_RLS, SUM_USAGE_RLS),
            _Side(conn, {"role": str(row[0]), "tenant": tenant}, LIST_INVOICES_WHERE, SUM_USAGE_WHERE),
            SETTINGS,
            params,
            rounds,
        )


def _two_connection_block(app_url: str, admin_url: str, params: dict, rounds: int) -> tuple[list[float], list[float]]:
    """The issue-7 method: the app login's own connection against a superuser's (kept for comparison)."""
    tenant = {"tenant": params["tenant"]}
    with (
        psycopg.connect(app_url, autocommit=True, prepare_threshold=None) as app,
        psycopg.connect(admin_url, autocommit=True, prepare_threshold=None) as owner,
    ):
        return _alternate(
            _Side(app, tenant, LIST_INVOICES_RLS, SUM_USAGE_RLS),
            _Side(owner, tenant, LIST_INVOICES_WHERE, SUM_USAGE_WHERE),
            TENANT_ONLY,
            params,
            rounds,
        )


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.rls_bench [--quick]``: ``rls_overhead_ratio`` alone, on a fresh stack and population."""
    from bench import billing_bench
    from bench.__main__ import PERIOD, SIZES
    from bench.data import count, create_customers, create_events, create_invoices
    from devstack.stack import REPO_ROOT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick run's size")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.time()
    with fresh_stack("rls", sizes) as env:
        admin, app_url = env["ADMIN_DATABASE_URL"], env["DATABASE_URL"]
        customers = create_customers(admin, sizes["customers"], seed="bench")
        create_events(admin, customers, sizes["events"], period=f"{PERIOD}-01", seed="bench")
        billing_bench.measure_billing_run(admin, generate=False, period=PERIOD)
        create_invoices(admin, customers, sizes["invoices_per_customer"], seed="bench")
        with psycopg.connect(admin, autocommit=True) as conn:
            invoices = count(conn, "SELECT count(*) FROM invoices")
            conn.execute("VACUUM ANALYZE")
        population = {"customers": len(customers), "events": sizes["events"], "invoices": invoices}
        figures = [
            measure_rls_overhead(
                app_url, admin, customers[0], f"{PERIOD}-01", rounds=sizes["rls_rounds"], data_size=population
            )
        ]
    print(render(figures))
    for figure in figures:
        print(figure.detail)
    out = REPO_ROOT / ".local" / "bench-rls.json"
    write_json(out, figures, quick=args.quick, started=started)
    print(f"\nwritten to {out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
