"""Authentication latency, in-process: what a later benchmark harness can call.

Each ``measure_*`` function returns a list of samples in milliseconds; the
harness computes and reports percentiles (see :func:`percentile`).

* :func:`measure_authenticate_cache_hit` — ``POST /auth/authenticate`` through
  ``chalice.test.Client`` with a key whose verification is cached.
* :func:`measure_authenticate_cold` — the same on a cache miss (bcrypt at the
  configured cost): the cache entry is deleted before every sample.
* :func:`measure_authorize` — per-request authorization of a bearer token
  (JWT check + the one PostgreSQL call, `auth_request_state`), the guard's work without a route.

Run standalone: ``PYTHONPATH=runtime:. .venv/bin/python -m bench.auth_bench [n]``
(starts a throwaway local stack; ``BENCH_BCRYPT_COST`` sets the cold-path cost).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

JSON = {"Content-Type": "application/json"}


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile of ``samples`` (``p`` in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _authenticate(client: Any, api_key: str) -> dict:
    response = client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))
    if response.status_code != 200:
        raise RuntimeError(f"authenticate failed: {response.status_code} {response.body!r}")
    return json.loads(response.body)


def measure_authenticate_cache_hit(client: Any, n: int, api_key: str, warmup: int = 20) -> list[float]:
    _authenticate(client, api_key)  # fills the verification cache
    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        _authenticate(client, api_key)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_authenticate_cold(client: Any, n: int, api_key: str) -> list[float]:
    from chalicelib.auth import keys, signing
    from chalicelib.core import aws
    from chalicelib.core.settings import get_settings

    digest = keys.cache_digest(signing.pepper(), api_key)
    table = get_settings().cache_table
    samples = []
    for _ in range(n):
        aws.client("dynamodb").delete_item(TableName=table, Key={"pk": {"S": f"apikey#{digest}"}})
        start = time.perf_counter()
        _authenticate(client, api_key)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_authorize(n: int, token: str, warmup: int = 20) -> list[float]:
    from chalicelib.auth import service

    header = f"Bearer {token}"
    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        service.authorize(header)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_authorized_request(client: Any, n: int, token: str, path: str = "/api-keys?limit=1",
                               warmup: int = 20) -> list[float]:
    """A whole authorized GET through the Chalice app (guard + route + database), for context."""
    headers = {"Authorization": f"Bearer {token}"}
    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        response = client.http.get(path, headers=headers)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} failed: {response.status_code}")
    return samples


def setup_customer(client: Any) -> tuple[str, str]:
    """Onboard a customer through the API; return (api key, token)."""
    import uuid

    from chalicelib.auth.bootstrap import create_operator_key

    operator = create_operator_key(email="bench-operator@saas.local", key_name="bench")
    operator_token = _authenticate(client, operator.key)["token"]
    body = {"name": "Bench", "email": f"bench-{uuid.uuid4().hex[:8]}@example.test", "tier": "growth"}
    response = client.http.post("/admin/customers", headers={**JSON, "Authorization": f"Bearer {operator_token}"},
                                body=json.dumps(body))
    api_key = json.loads(response.body)["api_key"]["key"]
    return api_key, _authenticate(client, api_key)["token"]


def _summary(name: str, samples: list[float]) -> str:
    return (f"{name:<32} n={len(samples):<5} p50={percentile(samples, 50):7.2f} ms  "
            f"p99={percentile(samples, 99):7.2f} ms  max={max(samples):7.2f} ms")


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 500
    root = Path(__file__).resolve().parent.parent
    sys.path[:0] = [str(root / "runtime"), str(root)]
    from devstack.stack import LocalStack

    state = Path(tempfile.mkdtemp(prefix="saas-bench-"))
    stack = LocalStack(state_dir=state, fast_unsafe=True, bcrypt_cost=int(os.environ.get("BENCH_BCRYPT_COST", "12")))
    try:
        stack.start()
        from chalice.test import Client

        from app import app
        from chalicelib.core.observability import logger

        logger.setLevel("WARNING")  # one JSON line per request would dominate the measurement
        with Client(app) as client:
            api_key, token = setup_customer(client)
            print(_summary("authenticate (cache hit)", measure_authenticate_cache_hit(client, n, api_key)))
            print(_summary("authorize (guard)", measure_authorize(n, token)))
            print(_summary("GET /api-keys (whole request)", measure_authorized_request(client, n, token)))
            cold = measure_authenticate_cold(client, max(5, n // 50), api_key)
            print(_summary(f"authenticate (miss, cost {stack.bcrypt_cost})", cold))
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
