"""``make bench`` (``python -m bench [--quick]``): start a local stack, make data, measure, report."""
from __future__ import annotations

import argparse
import shutil
import sys
import time

from bench import rls_bench
from bench.data import create_customers, create_events, create_invoices
from bench.harness import Figure, render, write_json
from devstack.stack import REPO_ROOT, LocalStack

FULL = {"rls_customers": 10_000, "rls_events": 1_000_000, "rls_invoices_per_customer": 10, "rls_rounds": 1000}
QUICK = {"rls_customers": 200, "rls_events": 20_000, "rls_invoices_per_customer": 3, "rls_rounds": 200}


def run(quick: bool) -> list[Figure]:
    sizes = QUICK if quick else FULL
    state = REPO_ROOT / ".local" / "bench"
    shutil.rmtree(state, ignore_errors=True)  # every run measures the data it generates itself
    stack = LocalStack(state_dir=state, bcrypt_cost=12)
    env = stack.start()
    figures: list[Figure] = []
    try:
        admin, app = env["ADMIN_DATABASE_URL"], env["DATABASE_URL"]
        customers = create_customers(admin, sizes["rls_customers"], seed="rls")
        create_events(admin, customers, sizes["rls_events"], period="2026-10-01", seed="rls")
        invoices = create_invoices(admin, customers, sizes["rls_invoices_per_customer"], seed="rls")
        figures.append(rls_bench.measure_rls_overhead(
            app, admin, customers[0], "2026-10-01", rounds=sizes["rls_rounds"],
            data_size={"customers": len(customers), "events": sizes["rls_events"], "invoices": invoices}))
    finally:
        stack.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, same code (under a minute)")
    args = parser.parse_args(argv)
    started = time.time()
    figures = run(args.quick)
    print(render(figures))
    out = REPO_ROOT / ".local" / "bench.json"
    write_json(out, figures, quick=args.quick, started=started)
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
