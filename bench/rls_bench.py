"""``rls_overhead_ratio``: the same tenant-scoped queries with RLS (app role) and without.

Without RLS means a superuser connection with an explicit ``WHERE customer_id``:
the table owner cannot stand in, because FORCE ROW LEVEL SECURITY applies to it
too. Both sides run alternately in one loop on identical data; the figure is
the ratio of the medians (1.00 = no overhead).

``python -m bench.rls_bench [--quick]`` builds the population ``make bench``
builds (customers, a month of events billed, invoice history) on a fresh
stack and measures this figure alone (``.local/bench-rls.json``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
import uuid

import psycopg

from bench.harness import Figure, render, write_json

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
    app_url: str, admin_url: str, customer_id: uuid.UUID, period: str, *, rounds: int, data_size: dict, blocks: int = 5
) -> Figure:
    """Ratio of medians over ``rounds`` alternated samples a side, spread over ``blocks`` fresh connection pairs.

    Fresh pairs matter on a small machine: one run's two backends can land on
    unequal CPUs for the whole run and bias a single pair by +-30% either way.
    """
    params = {"customer": customer_id, "period": period}
    rls: list[float] = []
    where: list[float] = []
    block_ratios = []
    for _ in range(blocks):
        block_rls, block_where = _block(app_url, admin_url, customer_id, params, rounds // blocks)
        rls += block_rls
        where += block_where
        block_ratios.append(round(statistics.median(block_rls) / statistics.median(block_where), 3))
    ratio = statistics.median(rls) / statistics.median(where)
    return Figure(
        name="rls_overhead_ratio",
        value=round(ratio, 3),
        unit="x",
        target="<= 1.05",
        data_size=data_size,
        params={"rounds": rounds, "blocks": blocks, "queries": ["list invoices (50)", "sum usage for a month"]},
        detail={
            "rls_median_ms": round(statistics.median(rls), 3),
            "where_median_ms": round(statistics.median(where), 3),
            "block_ratios": block_ratios,
        },
    )


def _block(
    app_url: str, admin_url: str, customer_id: uuid.UUID, params: dict, rounds: int
) -> tuple[list[float], list[float]]:
    with (
        psycopg.connect(app_url, autocommit=True, prepare_threshold=None) as app,
        psycopg.connect(admin_url, autocommit=True, prepare_threshold=None) as owner,
    ):

        def with_rls() -> None:
            with app.transaction():
                app.execute("SELECT set_config('app.tenant_id', %s, true)", (str(customer_id),))
                app.execute(LIST_INVOICES_RLS).fetchall()
                app.execute(SUM_USAGE_RLS, params).fetchall()

        def with_where() -> None:
            with owner.transaction():
                owner.execute("SELECT set_config('app.tenant_id', %s, true)", (str(customer_id),))
                owner.execute(LIST_INVOICES_WHERE, params).fetchall()
                owner.execute(SUM_USAGE_WHERE, params).fetchall()

        rls: list[float] = []
        where: list[float] = []
        warmup = 50
        for i in range(rounds + warmup):
            pair = ((with_rls, rls), (with_where, where)) if i % 2 == 0 else ((with_where, where), (with_rls, rls))
            for fn, bucket in pair:
                start = time.perf_counter()
                fn()
                if i >= warmup:
                    bucket.append((time.perf_counter() - start) * 1000)
    return rls, where


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.rls_bench [--quick]``: ``rls_overhead_ratio`` alone, on a fresh stack and population."""
    from bench import billing_bench
    from bench.__main__ import PERIOD, SIZES
    from bench.data import count, create_customers, create_events, create_invoices
    from devstack.stack import REPO_ROOT, LocalStack

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick run's size")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.time()
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    state = REPO_ROOT / ".local" / "bench-rls"
    shutil.rmtree(state, ignore_errors=True)
    stack = LocalStack(state_dir=state, bcrypt_cost=sizes["bcrypt_cost"])
    env = stack.start()
    admin, app_url = env["ADMIN_DATABASE_URL"], env["DATABASE_URL"]
    try:
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
    finally:
        stack.stop()
    print(render(figures))
    for figure in figures:
        print(figure.detail)
    out = REPO_ROOT / ".local" / "bench-rls.json"
    write_json(out, figures, quick=args.quick, started=started)
    print(f"\nwritten to {out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
