"""``cold_init_ms``: the packaged artifact's cold start, in the Lambda-shaped harness (devstack.lambda_harness).

Each sample starts a fresh process of the Lambda runtime's Python on the
unzipped package, imports the handler and answers one ``GET /health``
proxy event (its first database connection: TLS through the proxy stand-in,
and its first DynamoDB call included). The figure is the median.
"""

from __future__ import annotations

import statistics
import time

from bench.harness import Figure
from devstack.lambda_harness import API_FUNCTION, deployed


def measure_cold_init(samples: int) -> Figure:
    with deployed() as deployment:
        gateway, functions = deployment.api, deployment.functions
        matched = gateway.match("/health", "GET")
        assert matched is not None, "the packaged API serves GET /health"
        route, params = matched
        event = gateway.event("GET", "/health", [("Accept", "application/json")], b"", route, params)
        totals, imports = [], []
        for _ in range(samples):
            started = time.perf_counter()
            worker = functions.spawn(API_FUNCTION)
            answer = worker.invoke(event)
            totals.append((time.perf_counter() - started) * 1000)
            imports.append(worker.ready["init_ms"])
            worker.stop()
            if answer.get("result", {}).get("statusCode") != 200:
                raise RuntimeError(f"/health from a cold package: {answer}")
        return Figure(
            "cold_init_ms",
            round(statistics.median(totals), 1),
            "ms",
            "-",
            {"samples": samples},
            {
                "what": "fresh Lambda-runtime Python process -> handler imported -> first GET /health answered",
                "runtime": deployment.package.runtime,
                "synth_s": round(deployment.package.synth_seconds, 1),
                "synth_reused": deployment.package.cached,  # devstack.package_cache: same inputs, built before
            },
            {
                "import_ms_p50": round(statistics.median(imports), 1),
                "min_ms": round(min(totals), 1),
                "max_ms": round(max(totals), 1),
            },
        )
