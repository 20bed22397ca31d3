"""``make bench`` (``python -m bench [--quick] [--scale N]``): start a local stack, make data, measure, report.

Every figure is measured here, on this machine, against a fresh local stack
(embedded PostgreSQL with fsync on, moto for DynamoDB/SES/Secrets) whose data
the run generates itself. The table is printed and ``.local/bench.json``
keeps, for each figure, the value, the data size and the parameters.
``--quick`` runs the same code on small sizes (``make test`` runs it once so
the harness cannot rot; it asserts no timings). ``--scale N`` (``make bench
SCALE=10``) multiplies the population by N: customers and the billed month's
events (100,000 and 10,000,000 at 10), so the invoice history too; the other
sizes (samples, ingestion, per-customer reads) stay as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from bench import (
    alerts_bench,
    auth_bench,
    billing_bench,
    billing_run_bench,
    floor_bench,
    http_bench,
    invoice_bench,
    lambda_bench,
    people_bench,
    portal_bench,
    ratelimit_bench,
    rls_bench,
)
from bench.data import count, create_customers, create_events, create_invoices
from bench.harness import Figure, render, sample_ms, summarize, write_json
from devstack.stack import REPO_ROOT, LocalStack

SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "customers": 10_000,
        "events": 1_000_000,
        "invoices_per_customer": 10,
        "ingest": 200_000,
        "metrics_events": 100_000,
        "samples": 1000,
        "cold_samples": 1000,
        "rls_rounds": 1000,
        "bcrypt_cost": 12,
        "cold_init_samples": 10,
        "login_samples": 100,  # bcrypt cost 12 in both modes (bench/people_bench.py)
        "mfa_samples": 1000,
        "pdf_samples": 200,  # bench/invoice_bench.py
        "upcoming_events": 100_000,
        "upcoming_samples": 1000,
        "webhook_tenants": 20,
        "webhook_events_per_tenant": 100,
        "portal_runs": 5,  # bench/portal_bench.py: the dashboard in Chromium, median of runs
        "portal_events": 10_000,
        "http_clients": 16,  # bench/http_bench.py: the load over HTTP
        "http_duration_s": 60.0,
    },
    "quick": {
        "customers": 200,
        "events": 20_000,
        "invoices_per_customer": 3,
        "ingest": 10_000,
        "metrics_events": 5_000,
        # A smoke of each sampled path, not a percentile to compare (the full run's 1,000 are): the
        # seven 1,000-sample loops were most of the quick run's in-process minutes.
        "samples": 200,
        "cold_samples": 20,
        "rls_rounds": 200,
        "bcrypt_cost": 4,
        "cold_init_samples": 3,
        "login_samples": 5,
        "mfa_samples": 100,
        "pdf_samples": 20,
        "upcoming_events": 10_000,
        "upcoming_samples": 50,  # twice (HTTP, service only), each after sample_ms's 100 warm-up calls
        "webhook_tenants": 20,
        "webhook_events_per_tenant": 5,
        "portal_runs": 2,
        "portal_events": 1_000,
        "http_clients": 16,
        "http_duration_s": 5.0,
    },
}
PERIOD = "2026-10"
# What --scale multiplies: the population. Everything else is sampled, not scaled.
SCALED = ("customers", "events")


def scaled(sizes: dict[str, Any], scale: int) -> dict[str, Any]:
    """``sizes`` with the population ``scale`` times larger."""
    return sizes | {key: sizes[key] * scale for key in SCALED}


def _latency_figure(
    name: str, samples: list[float], stat: str, target: str, data_size: dict[str, Any], params: dict[str, Any]
) -> Figure:
    stats = summarize(samples)
    return Figure(name, stats[f"{stat}_ms"], "ms", target, data_size, params=params, detail=stats)


def _customer_invoices(client: Any, headers: dict[str, str]) -> None:
    response = client.http.get("/invoices?limit=50", headers=headers)
    if response.status_code != 200 or not json.loads(response.body)["items"]:
        raise RuntimeError(f"GET /invoices answered {response.status_code}: {response.body[:300]!r}")


def run(quick: bool, scale: int = 1) -> list[Figure]:
    sizes = scaled(SIZES["quick" if quick else "full"], scale)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # keep per-request log lines out of the report
    state = REPO_ROOT / ".local" / "bench"
    shutil.rmtree(state, ignore_errors=True)  # every run measures the data it generates itself
    stack = LocalStack(state_dir=state, bcrypt_cost=sizes["bcrypt_cost"])
    env = stack.start()
    admin, app_url = env["ADMIN_DATABASE_URL"], env["DATABASE_URL"]
    figures: list[Figure] = []
    try:
        # The population: customers and a month of usage, billed, plus invoice history.
        customers = create_customers(admin, sizes["customers"], seed="bench")
        create_events(admin, customers, sizes["events"], period=f"{PERIOD}-01", seed="bench")
        # The billing run (draft, unchanged re-run, finalize), its memory and its ratio to the scan.
        target = billing_run_bench.target_for(sizes["customers"])
        figures.extend(billing_run_bench.measure_billing(admin, period=PERIOD, target=target))
        create_invoices(admin, customers, sizes["invoices_per_customer"], seed="bench")
        with psycopg.connect(admin, autocommit=True) as conn:
            invoice_count = count(conn, "SELECT count(*) FROM invoices")
            # Settle the freshly written population (hint bits, visibility map, statistics)
            # so autovacuum does not start in the middle of the latency samples.
            conn.execute("VACUUM ANALYZE")
        population = {"customers": len(customers), "events": sizes["events"], "invoices": invoice_count}

        figures.append(
            rls_bench.measure_rls_overhead(
                app_url, admin, customers[0], f"{PERIOD}-01", rounds=sizes["rls_rounds"], data_size=population
            )
        )

        from app import app
        from chalice.test import Client

        n = sizes["samples"]
        with Client(app) as client:
            operator = billing_bench.operator_headers(client)

            # Authentication: a customer's key, cache hit and miss; then per-request authorization.
            key, token = _onboard_with_key(client, operator)
            figures.append(
                _latency_figure(
                    "auth_cache_hit_p99_ms",
                    auth_bench.measure_authenticate_cache_hit(client, n, key),
                    "p99",
                    "<= 10",
                    {"samples": n},
                    {"path": "POST /auth/authenticate", "cache": "hit (warm process)", "in_process": True},
                )
            )
            figures.append(
                _latency_figure(
                    "auth_dynamodb_hit_p99_ms",
                    auth_bench.measure_authenticate_dynamodb_hit(client, n, key),
                    "p99",
                    "-",
                    {"samples": n},
                    {
                        "path": "POST /auth/authenticate",
                        "cache": "hit in DynamoDB only (cold process)",
                        "in_process": True,
                    },
                )
            )
            figures.append(
                _latency_figure(
                    "auth_cold_p50_ms",
                    auth_bench.measure_authenticate_cold(client, sizes["cold_samples"], key),
                    "p50",
                    "-",
                    {"samples": sizes["cold_samples"]},
                    {
                        "path": "POST /auth/authenticate",
                        "cache": "miss",
                        "bcrypt_cost": sizes["bcrypt_cost"],
                        "in_process": True,
                    },
                )
            )
            # People (issue 13): login, the MFA step, and authorize() for a key's session and a
            # person's, sampled alternately so the two figures compare.
            figures.extend(people_bench.measure_people(client, admin, operator, token, sizes))

            # Rate limiting: the guard's count for one customer request (an enterprise
            # customer: 1000 samples stay inside its limits).
            limited, _ = billing_bench.onboard_customer(client, operator)
            figures.append(
                _latency_figure(
                    "ratelimit_check_p99_ms",
                    ratelimit_bench.measure_enforce(n, limited),
                    "p99",
                    "-",
                    {"samples": n},
                    {
                        "what": "tier limits from the in-process cache + one conditional DynamoDB UpdateItem (moto)",
                        "in_process": True,
                    },
                )
            )

            # Reads: invoices among >= 100,000, usage of a customer with 100,000 events this month.
            reader, reader_headers = billing_bench.onboard_customer(client, operator)
            create_invoices(admin, [reader], 24, seed=f"reader-{uuid.uuid4().hex[:6]}")
            figures.append(
                _latency_figure(
                    "invoices_list_p99_ms",
                    sample_ms(lambda: _customer_invoices(client, reader_headers), n),
                    "p99",
                    "-",
                    {**population, "invoices": population["invoices"] + 24, "customer_invoices": 24, "samples": n},
                    {"path": "GET /invoices?limit=50", "in_process": True},
                )
            )
            period = billing_bench.seed_metrics_events(admin, reader, sizes["metrics_events"])
            figures.append(
                billing_bench.measure_metrics_query(
                    client, reader_headers, period, samples=n, events=sizes["metrics_events"], customer_id=reader
                )
            )

            # Ingestion: sustained POST /metrics with batches of 1000, by a customer without usage
            # alerts and one with three (issue 14), batches alternated so the two figures compare.
            figures.extend(alerts_bench.measure_ingest_with_and_without_alerts(client, operator, sizes["ingest"]))
            # Ratios to this machine's floor (issue 16): authorize vs JWT + SELECT 1, ingestion vs COPY.
            figures.extend(floor_bench.measure_floors(client, admin, operator, sizes))

            # Invoices and webhooks (issue 14): the PDF, the upcoming invoice, webhook fan-out.
            figures.extend(invoice_bench.measure_invoices(client, admin, operator, sizes))
    finally:
        stack.stop()
    # The packaged artifact's cold start (its own stand-ins, after the stack above is down).
    figures.append(lambda_bench.measure_cold_init(sizes["cold_init_samples"]))
    # The portal (issue 15): its bundle, and the dashboard in Chromium against a stack of its own.
    figures.extend(portal_bench.run_alone(sizes))
    # Load over HTTP (issue 16): make run's server, 16 clients; the storage per event for the cost table.
    figures.extend(http_bench.run_alone(sizes))
    order = [
        "cold_init_ms",
        "auth_cache_hit_p99_ms",
        "auth_dynamodb_hit_p99_ms",
        "auth_cold_p50_ms",
        "authorize_p99_ms",
        "authorize_p99_ms_user",
        "authorize_vs_floor_ratio",
        "login_p50_ms",
        "mfa_verify_p99_ms",
        "ratelimit_check_p99_ms",
        "ingest_events_per_s",
        "ingest_with_alerts_events_per_s",
        "ingest_vs_copy_ratio",
        "billing_run_s",
        "billing_finalize_s",
        "billing_vs_scan_ratio",
        "billing_peak_rss_mib",
        "metrics_query_p99_ms",
        "invoices_list_p99_ms",
        "invoice_pdf_p50_ms",
        "upcoming_invoice_p99_ms",
        "webhook_fanout_per_s",
        "rls_overhead_ratio",
        "http_requests_per_s",
        "http_p99_ms",
        "usage_bytes_per_event",
        "portal_bundle_gzip_kib",
        "portal_first_visit_gzip_kib",
        "portal_dashboard_usage_ms",
    ]
    return sorted(figures, key=lambda f: order.index(f.name))


def _onboard_with_key(client: Any, operator: dict[str, str]) -> tuple[str, str]:
    """A new enterprise customer's API key and a session token for it."""
    body = {"name": "Bench auth", "email": f"bench-auth-{uuid.uuid4().hex[:8]}@example.test", "tier": "enterprise"}
    response = client.http.post("/admin/customers", headers=operator, body=json.dumps(body))
    if response.status_code != 201:
        raise RuntimeError(f"onboarding failed: {response.status_code} {response.body[:300]!r}")
    key = json.loads(response.body)["api_key"]["key"]
    return key, billing_bench._token(client, key)


# ``--only <section>``: a module's figures on a fresh stack of their own.
SECTIONS: dict[str, Callable[[dict[str, Any]], list[Figure]]] = {
    "people": people_bench.run_alone,
    "billing": billing_run_bench.run_alone,
    "invoices": invoice_bench.run_alone,
    "portal": portal_bench.run_alone,
    "floors": floor_bench.run_alone,
    "http": http_bench.run_alone,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, same code (under a minute)")
    parser.add_argument(
        "--only",
        choices=sorted(SECTIONS),
        help="one section on its own stack (written to .local/bench-<section>.json)",
    )
    parser.add_argument(
        "--scale", type=int, default=1, help="population N times larger (10: 100,000 customers, 10M events)"
    )
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be 1 or more")
    started = time.time()
    sizes = scaled(SIZES["quick" if args.quick else "full"], args.scale)
    figures = SECTIONS[args.only](sizes) if args.only else run(args.quick, args.scale)
    print(render(figures))
    out = REPO_ROOT / ".local" / (f"bench-{args.only}.json" if args.only else "bench.json")
    write_json(out, figures, quick=args.quick, started=started, scale=args.scale)
    print(f"\nwritten to {out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
