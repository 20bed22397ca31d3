"""Metering and billing figures, as functions the harness calls, plus a standalone command.

* :func:`measure_ingest` — ``POST /metrics`` batches through ``chalice.test.Client``
  (in-process, authentication included when ``headers`` carry a real token):
  events per second, sustained over ``n_events``.
* :func:`measure_billing_run` — ``BillingService.run`` over the data generated
  by :func:`seed_billing_data` (N customers, M events in one period): seconds.
* :func:`measure_metrics_query` — ``GET /metrics`` for one customer with many
  events in the month: p99 milliseconds over >= 1000 samples after a warm-up.

Standalone (own throw-away stack; prints the figures)::

    python -m bench.billing_bench [--quick]

Until the authentication branch provides tokens, the standalone command
installs a stub guard that sets the principal (marked ``auth: stubbed`` in the
figure's parameters); the harness passes real headers.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from bench.data import create_customers, create_events
from bench.harness import Figure, render, sample_ms, summarize

INGEST_TARGET = ">= 20000"
BILLING_TARGET = "<= 10"
METRICS_TARGET = "<= 20"


# ---------------------------------------------------------------- ingestion

def make_batches(n_events: int, batch_size: int = 1000, *, prefix: str | None = None,
                 now: datetime | None = None) -> list[str]:
    """Pre-serialized ``POST /metrics`` bodies (client-side work, kept out of the timing)."""
    prefix = prefix or uuid.uuid4().hex[:8]
    now = now or datetime.now(timezone.utc)
    bodies = []
    for start in range(0, n_events, batch_size):
        events = [{
            "event_id": f"{prefix}-{i}",
            "metric": "compliance_scans" if i % 10 == 0 else "api_calls",
            "quantity": 1 + i % 5,
            "timestamp": (now - timedelta(seconds=i % 3600)).isoformat(),
        } for i in range(start, min(start + batch_size, n_events))]
        bodies.append(json.dumps({"events": events}))
    return bodies


def measure_ingest(client: Any, headers: dict[str, str], n_events: int = 200_000, batch_size: int = 1000,
                   *, warmup_batches: int = 3, params: dict[str, Any] | None = None) -> Figure:
    """Sustained ``POST /metrics`` throughput in events/s (every batch must be accepted in full)."""
    request_headers = {**headers, "Content-Type": "application/json"}
    for body in make_batches(warmup_batches * batch_size, batch_size, prefix=f"warm-{uuid.uuid4().hex[:6]}"):
        _post_ok(client, request_headers, body)
    bodies = make_batches(n_events, batch_size)
    latencies = []
    started = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        _post_ok(client, request_headers, body)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return Figure("ingest_events_per_s", round(n_events / elapsed), "events/s", INGEST_TARGET,
                  {"events": n_events, "batch_size": batch_size, "batches": len(bodies)},
                  params={"path": "POST /metrics", "in_process": True, **(params or {})},
                  detail={"elapsed_s": round(elapsed, 3), "batch_latency": summarize(latencies)})


def _post_ok(client: Any, headers: dict[str, str], body: str) -> None:
    response = client.http.post("/metrics", headers=headers, body=body)
    if response.status_code != 200:
        raise RuntimeError(f"POST /metrics answered {response.status_code}: {response.body[:300]!r}")


# ---------------------------------------------------------------- billing run

def seed_billing_data(admin_url: str, n_customers: int, n_events: int, *, period: str = "2026-10",
                      seed: str = "billing") -> list[uuid.UUID]:
    """``n_customers`` customers (tiers round-robin) and ``n_events`` events spread over them in ``period``."""
    customers = create_customers(admin_url, n_customers, seed=seed, billing_start="2020-01-01")
    create_events(admin_url, customers, n_events, period=f"{period}-01", seed=seed)
    return customers


def measure_billing_run(admin_url: str, n_customers: int = 10_000, n_events: int = 1_000_000, *,
                        period: str = "2026-10", seed: str = "billing", generate: bool = True) -> Figure:
    """Seconds for one billing run of ``period`` creating every invoice (then a rerun and a finalize, in detail).

    With ``generate=False`` it bills whatever the database holds for the period.
    ``data_size`` reports what was actually there: billable customers and events.
    """
    from chalicelib.billing.periods import parse_period
    from chalicelib.billing.service import billing_service

    if generate:
        seed_billing_data(admin_url, n_customers, n_events, period=period, seed=seed)
    month = parse_period(period)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        customers = conn.execute("SELECT count(*) FROM customers WHERE billing_start_date <= %s",
                                 (month.last_day,)).fetchone()[0]
        events = conn.execute("SELECT count(*) FROM usage_events WHERE period = %s", (month.first_day,)).fetchone()[0]
        existing = conn.execute("SELECT count(*) FROM invoices WHERE period = %s", (month.first_day,)).fetchone()[0]
    now = month.ends_at + timedelta(days=1)

    def timed(finalize: bool) -> tuple[float, Any]:
        start = time.perf_counter()
        result = billing_service.run(month, finalize=finalize, now=now, actor="system:bench")
        return time.perf_counter() - start, result

    first_s, first = timed(False)
    rerun_s, _ = timed(False)
    finalize_s, finalized = timed(True)
    return Figure("billing_run_s", round(first_s, 3), "s", BILLING_TARGET,
                  {"customers": customers, "events": events},
                  params={"period": period, "finalize": False, "invoices_before": existing},
                  detail={"invoices_created": first.invoices_created, "total_cents": first.as_json()["total_cents"],
                          "rerun_unchanged_s": round(rerun_s, 3), "finalize_run_s": round(finalize_s, 3),
                          "invoices_finalized": finalized.invoices_finalized})


# ---------------------------------------------------------------- GET /metrics

def seed_metrics_customer(admin_url: str, n_events: int = 100_000, *, period: str | None = None,
                          seed: str = "metrics") -> tuple[uuid.UUID, str]:
    """One customer with ``n_events`` events in ``period`` (default: the current month)."""
    from chalicelib.billing.periods import Period

    label = period or Period.containing(datetime.now(timezone.utc)).label
    [customer] = create_customers(admin_url, 1, seed=f"{seed}-{uuid.uuid4().hex[:6]}")
    create_events(admin_url, [customer], n_events, period=f"{label}-01", seed=f"{seed}-{customer}")
    return customer, label


def measure_metrics_query(client: Any, headers: dict[str, str], period: str, *, samples: int = 1000,
                          events: int | None = None, params: dict[str, Any] | None = None) -> Figure:
    """p99 of ``GET /metrics?period=`` in-process (status checked on every call)."""
    path = f"/metrics?period={period}"

    def call() -> None:
        response = client.http.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET /metrics answered {response.status_code}: {response.body[:300]!r}")

    stats = summarize(sample_ms(call, samples))
    return Figure("metrics_query_p99_ms", stats["p99_ms"], "ms", METRICS_TARGET,
                  {"events_in_month": events}, params={"path": path, "in_process": True, **(params or {})},
                  detail=stats)


# ---------------------------------------------------------------- standalone command

def stub_customer_guard(customer_id: uuid.UUID) -> None:
    """Make every request the given customer (for measuring without the authentication branch)."""
    from chalicelib.core import context, http

    principal = context.Principal("customer", customer_id, uuid.uuid4(), "bench")

    def guard(request: Any, spec: Any) -> None:
        context.set_principal(principal)

    http.add_guard(guard, order=http.AUTHENTICATION_ORDER)


SIZES = {
    "full": {"ingest": 200_000, "customers": 10_000, "events": 1_000_000, "metrics_events": 100_000,
             "samples": 1000},
    "quick": {"ingest": 10_000, "customers": 200, "events": 20_000, "metrics_events": 5_000, "samples": 1000},
}


def main(argv: list[str] | None = None) -> int:
    from chalice.test import Client

    from devstack.stack import REPO_ROOT, LocalStack

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    state = REPO_ROOT / ".local" / "billing-bench"
    shutil.rmtree(state, ignore_errors=True)
    stack = LocalStack(state_dir=state, fast_unsafe=False, bcrypt_cost=4)
    env = stack.start()
    figures = []
    try:
        admin = env["ADMIN_DATABASE_URL"]
        figures.append(measure_billing_run(admin, sizes["customers"], sizes["events"]))
        customer, period = seed_metrics_customer(admin, sizes["metrics_events"])
        stub_customer_guard(customer)
        from app import app

        with Client(app) as client:
            stub = {"auth": "stubbed"}
            figures.append(measure_metrics_query(client, {}, period, samples=sizes["samples"],
                                                 events=sizes["metrics_events"], params=stub))
            figures.append(measure_ingest(client, {}, sizes["ingest"], params=stub))
    finally:
        stack.stop()
    print(render(figures))
    for figure in figures:
        print(figure.name, json.dumps(figure.detail, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
