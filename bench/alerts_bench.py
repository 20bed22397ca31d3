"""Ingestion with and without usage alerts (issue 14): the two figures, measured side by side.

Usage alerts are checked inside ingestion's one statement per batch
(migration 0042); the issue allows them to cost at most 10% of ingestion
throughput. The two figures come from one run, batch for batch: a customer
without alerts and one with three (one of which fires once, midway; the
others are never reached) alternate ``POST /metrics`` batches of 1000 through
the same client, so drift on a shared two-core machine (autovacuum, moto, the
other figures' leftovers) falls on both alike. Each figure is its customer's
events divided by the time its own batches took.

* ``ingest_events_per_s`` — the customer without alerts (the figure earlier
  runs reported, measured the same way on the same batches).
* ``ingest_with_alerts_events_per_s`` — the customer with alerts; its detail
  says how many alerts fired and the ratio of the two figures.

``make bench`` measures them with the rest; ``python -m bench.alerts_bench
[--quick]`` measures only these two, at the same sizes, on a fresh stack of
their own (``.local/bench-ingest.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from typing import Any

from bench.billing_bench import INGEST_TARGET, _post_ok, make_batches, onboard_customer, operator_headers
from bench.harness import Figure, fresh_stack, render, summarize, write_json

# make_batches: 90% of events are api_calls, quantities 1-5 (3 on average).
MEAN_API_CALLS_PER_EVENT = 0.9 * 3
NEVER = "10000000000"  # a month's bound: never reached by the run


def _alerts(events: int) -> list[tuple[str, str]]:
    """Three alerts: one on api_calls reached about halfway through the run, two never reached."""
    midway = str(int(events * MEAN_API_CALLS_PER_EVENT / 2))
    return [("api_calls", midway), ("api_calls", NEVER), ("compliance_scans", NEVER)]


def _create_alert(client: Any, headers: dict[str, str], metric: str, threshold: str) -> None:
    body = json.dumps({"metric": metric, "threshold": threshold})
    response = client.http.post("/usage-alerts", headers=headers, body=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST /usage-alerts answered {response.status_code}: {response.body[:300]!r}")


def _fired(client: Any, headers: dict[str, str]) -> int:
    response = client.http.get("/usage-alerts", headers=headers)
    return sum(item["last_triggered_period"] is not None for item in json.loads(response.body)["items"])


def measure_ingest_with_and_without_alerts(
    client: Any, operator: dict[str, str], n_events: int, batch_size: int = 1000, *, warmup_batches: int = 3
) -> list[Figure]:
    """Both ingestion figures (events/s), every batch accepted in full, batches of the two customers alternated."""
    _, plain_headers = onboard_customer(client, operator)
    _, alert_headers = onboard_customer(client, operator)
    alerts = _alerts(n_events)
    for metric, threshold in alerts:
        _create_alert(client, alert_headers, metric, threshold)
    writers = {"plain": plain_headers, "alerts": alert_headers}
    for headers in writers.values():
        for body in make_batches(warmup_batches * batch_size, batch_size, prefix=f"warm-{uuid.uuid4().hex[:6]}"):
            _post_ok(client, headers, body)
    bodies = {name: make_batches(n_events, batch_size) for name in writers}
    latencies: dict[str, list[float]] = {name: [] for name in writers}
    for index in range(len(bodies["plain"])):
        # Alternate which one goes first, so neither always follows the other.
        order = ("plain", "alerts") if index % 2 == 0 else ("alerts", "plain")
        for name in order:
            started = time.perf_counter()
            _post_ok(client, writers[name], bodies[name][index])
            latencies[name].append((time.perf_counter() - started) * 1000)
    size = {"events": n_events, "batch_size": batch_size, "batches": len(bodies["plain"])}
    params = {"path": "POST /metrics", "in_process": True}

    def figure(name: str, figure_name: str, extra: dict[str, Any]) -> Figure:
        elapsed_s = sum(latencies[name]) / 1000
        return Figure(
            figure_name,
            round(n_events / elapsed_s),
            "events/s",
            INGEST_TARGET,
            size,
            params={**params, **extra},
            detail={"elapsed_s": round(elapsed_s, 3), "batch_latency": summarize(latencies[name])},
        )

    plain = figure("plain", "ingest_events_per_s", {"usage_alerts": 0, "alternated_with": "with 3 usage alerts"})
    with_alerts = figure(
        "alerts",
        "ingest_with_alerts_events_per_s",
        {
            "usage_alerts": [f"{metric} >= {threshold}" for metric, threshold in alerts],
            "alternated_with": "without usage alerts",
        },
    )
    with_alerts.detail["alerts_fired"] = _fired(client, alert_headers)
    with_alerts.detail["ratio_to_without"] = round(with_alerts.value / plain.value, 3)
    return [plain, with_alerts]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.alerts_bench [--quick]``: the two ingestion figures alone, on a fresh stack."""
    from bench.__main__ import SIZES
    from devstack.stack import REPO_ROOT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick run's size")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.time()
    with fresh_stack("ingest", sizes):
        from app import app
        from chalice.test import Client

        with Client(app) as client:
            figures = measure_ingest_with_and_without_alerts(client, operator_headers(client), sizes["ingest"])
    print(render(figures))
    out = REPO_ROOT / ".local" / "bench-ingest.json"
    write_json(out, figures, quick=args.quick, started=started)
    print(f"\nwritten to {out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
