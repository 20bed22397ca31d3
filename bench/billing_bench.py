"""Metering and billing figures, as functions the harness (``python -m bench``) calls.

* :func:`measure_ingest` — ``POST /metrics`` batches through ``chalice.test.Client``
  (in-process, authentication included when ``headers`` carry a real token):
  events per second, sustained over ``n_events``.
* :func:`measure_billing_run` — ``billing.service.run`` over the data generated
  by :func:`seed_billing_data` (N customers, M events in one period): seconds
  (:mod:`bench.billing_run_bench` measures it, with its memory and its ratio to the scan).
* :func:`measure_metrics_query` — ``GET /metrics`` for one customer with many
  events in the month: p99 milliseconds over >= 1000 samples after a warm-up.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.auth_bench import _authenticate
from bench.data import create_customers, create_events
from bench.harness import Figure, sample_ms, summarize

INGEST_TARGET = ">= 20000"
BILLING_TARGET = "<= 10"
METRICS_TARGET = "<= 20"


# ---------------------------------------------------------------- ingestion


def make_batches(
    n_events: int, batch_size: int = 1000, *, prefix: str | None = None, now: datetime | None = None
) -> list[str]:
    """Pre-serialized ``POST /metrics`` bodies (client-side work, kept out of the timing)."""
    prefix = prefix or uuid.uuid4().hex[:8]
    now = now or datetime.now(UTC)
    bodies = []
    for start in range(0, n_events, batch_size):
        events = [
            {
                "event_id": f"{prefix}-{i}",
                "metric": "compliance_scans" if i % 10 == 0 else "api_calls",
                "quantity": 1 + i % 5,
                "timestamp": (now - timedelta(seconds=i % 3600)).isoformat(),
            }
            for i in range(start, min(start + batch_size, n_events))
        ]
        bodies.append(json.dumps({"events": events}))
    return bodies


def measure_ingest(
    client: Any,
    headers: dict[str, str],
    n_events: int = 200_000,
    batch_size: int = 1000,
    *,
    warmup_batches: int = 3,
    params: dict[str, Any] | None = None,
) -> Figure:
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
    return Figure(
        "ingest_events_per_s",
        round(n_events / elapsed),
        "events/s",
        INGEST_TARGET,
        {"events": n_events, "batch_size": batch_size, "batches": len(bodies)},
        params={"path": "POST /metrics", "in_process": True, **(params or {})},
        detail={"elapsed_s": round(elapsed, 3), "batch_latency": summarize(latencies)},
    )


def _post_ok(client: Any, headers: dict[str, str], body: str) -> None:
    response = client.http.post("/metrics", headers=headers, body=body)
    if response.status_code != 200:
        raise RuntimeError(f"POST /metrics answered {response.status_code}: {response.body[:300]!r}")


# ---------------------------------------------------------------- billing run


def seed_billing_data(
    admin_url: str, n_customers: int, n_events: int, *, period: str = "2026-10", seed: str = "billing"
) -> list[uuid.UUID]:
    """``n_customers`` customers (tiers round-robin) and ``n_events`` events spread over them in ``period``."""
    customers = create_customers(admin_url, n_customers, seed=seed, billing_start="2020-01-01")
    create_events(admin_url, customers, n_events, period=f"{period}-01", seed=seed)
    return customers


def measure_billing_run(
    admin_url: str,
    n_customers: int = 10_000,
    n_events: int = 1_000_000,
    *,
    period: str = "2026-10",
    seed: str = "billing",
    generate: bool = True,
) -> Figure:
    """``billing_run_s`` alone (see :func:`bench.billing_run_bench.measure_billing` for all four figures).

    With ``generate=False`` it bills whatever the database holds for the period.
    """
    from bench.billing_run_bench import measure_billing

    if generate:
        seed_billing_data(admin_url, n_customers, n_events, period=period, seed=seed)
    return measure_billing(admin_url, period=period, target=BILLING_TARGET)[0]


# ---------------------------------------------------------------- GET /metrics


def seed_metrics_events(
    admin_url: str, customer_id: uuid.UUID, n_events: int = 100_000, *, period: str | None = None
) -> str:
    """``n_events`` events for one customer in ``period`` (default: the current month); returns the period."""
    label = period or datetime.now(UTC).strftime("%Y-%m")
    create_events(admin_url, [customer_id], n_events, period=f"{label}-01", seed=f"metrics-{customer_id}")
    return label


def measure_metrics_query(
    client: Any,
    headers: dict[str, str],
    period: str,
    *,
    samples: int = 1000,
    events: int | None = None,
    customer_id: uuid.UUID | None = None,
    params: dict[str, Any] | None = None,
) -> Figure:
    """p99 of ``GET /metrics?period=`` in-process (status checked on every call).

    With ``customer_id``, ``detail["service_only"]`` also samples the service
    call alone (no HTTP layer, no authentication): where the time goes.
    """
    from chalicelib.metering import service

    path = f"/metrics?period={period}"

    def call() -> None:
        response = client.http.get(path, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET /metrics answered {response.status_code}: {response.body[:300]!r}")

    stats = summarize(sample_ms(call, samples))
    detail: dict[str, Any] = dict(stats)
    if customer_id is not None:
        detail["service_only"] = summarize(sample_ms(lambda: service.usage_for_period(customer_id, period), samples))
    return Figure(
        "metrics_query_p99_ms",
        stats["p99_ms"],
        "ms",
        METRICS_TARGET,
        {"events_in_month": events},
        params={"path": path, "in_process": True, **(params or {})},
        detail=detail,
    )


# ---------------------------------------------------------------- standalone command

JSON = {"Content-Type": "application/json"}


def operator_headers(client: Any) -> dict[str, str]:
    """A fresh operator key, authenticated: ``Authorization`` headers for admin routes."""
    from chalicelib.auth.bootstrap import create_operator_key

    key = create_operator_key(email=f"bench-{uuid.uuid4().hex[:8]}@saas.local", key_name="bench").key
    return {**JSON, "Authorization": f"Bearer {_token(client, key)}"}


def onboard_customer(
    client: Any, operator: dict[str, str], tier: str = "enterprise", **fields: Any
) -> tuple[uuid.UUID, dict[str, str]]:
    """A customer created through ``POST /admin/customers``, and its bearer headers."""
    body = {"name": "Bench customer", "email": f"bench-{uuid.uuid4().hex[:10]}@example.test", "tier": tier, **fields}
    response = client.http.post("/admin/customers", headers=operator, body=json.dumps(body))
    if response.status_code != 201:
        raise RuntimeError(f"onboarding failed: {response.status_code} {response.body[:300]!r}")
    document = json.loads(response.body)
    token = _token(client, document["api_key"]["key"])
    return uuid.UUID(document["customer"]["id"]), {**JSON, "Authorization": f"Bearer {token}"}


def _token(client: Any, api_key: str) -> str:
    return _authenticate(client, api_key)["token"]
