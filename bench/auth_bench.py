"""Authentication latency, in-process, as functions the harness (``python -m bench``) calls.

Each ``measure_*`` function returns a list of samples in milliseconds; the
harness (``python -m bench``) computes and reports the percentiles.

* :func:`measure_authenticate_cache_hit` — ``POST /auth/authenticate`` through
  ``chalice.test.Client`` with a key whose verification is cached.
* :func:`measure_authenticate_cold` — the same on a cache miss (bcrypt at the
  configured cost): the cached verification is dropped before every sample.
* :func:`measure_authenticate_dynamodb_hit` — a hit in the DynamoDB cache
  only, as a process that has not seen the key yet would have.

Per-request authorization (``authorize_p99_ms``, a key's session and a
person's, interleaved) is measured in ``bench/people_bench.py``.

``python -m bench.auth_bench [--quick]`` measures the two cache-hit figures
alone on a fresh stack (``.local/bench-auth.json``), the same functions
``make bench`` calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench.harness import Figure, fresh_stack, render, sample_ms, write_json

JSON = {"Content-Type": "application/json"}


def _authenticate(client: Any, api_key: str) -> dict:
    response = client.http.post("/auth/authenticate", headers=JSON, body=json.dumps({"api_key": api_key}))
    if response.status_code != 200:
        raise RuntimeError(f"authenticate failed: {response.status_code} {response.body!r}")
    return json.loads(response.body)


def measure_authenticate_cache_hit(client: Any, n: int, api_key: str, warmup: int = 20) -> list[float]:
    _authenticate(client, api_key)  # fills the verification cache
    return sample_ms(lambda: _authenticate(client, api_key), n, warmup)


def measure_authenticate_cold(client: Any, n: int, api_key: str) -> list[float]:
    """Cache miss: the verification is dropped from both caches (this process's and DynamoDB) first."""
    from chalicelib.auth import key_format, signing, verification_cache

    digest = key_format.cache_digest(signing.pepper(), api_key)
    samples = []
    for _ in range(n):
        verification_cache.drop(digest)
        start = time.perf_counter()
        _authenticate(client, api_key)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def measure_authenticate_dynamodb_hit(client: Any, n: int, api_key: str, warmup: int = 20) -> list[float]:
    """Cache hit in DynamoDB only (a cold process): this process's copy is dropped before each sample."""
    from chalicelib.auth import key_format, signing, verification_cache

    digest = key_format.cache_digest(signing.pepper(), api_key)
    _authenticate(client, api_key)  # fills both caches
    samples = []
    for i in range(warmup + n):
        verification_cache._local.pop(digest)
        start = time.perf_counter()
        _authenticate(client, api_key)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.auth_bench [--quick]``: the cache-hit figures alone, on a fresh stack."""
    from bench import billing_bench
    from bench.__main__ import SIZES, _latency_figure, _onboard_with_key
    from devstack.stack import REPO_ROOT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the quick run's size")
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    started = time.time()
    with fresh_stack("auth", sizes):
        n = sizes["samples"]
        from app import app
        from chalice.test import Client

        with Client(app) as client:
            key, _ = _onboard_with_key(client, billing_bench.operator_headers(client))
            path = {"path": "POST /auth/authenticate", "in_process": True}
            figures: list[Figure] = [
                _latency_figure(
                    "auth_cache_hit_p99_ms",
                    measure_authenticate_cache_hit(client, n, key),
                    "p99",
                    "<= 10",
                    {"samples": n},
                    {**path, "cache": "hit (warm process)"},
                ),
                _latency_figure(
                    "auth_dynamodb_hit_p99_ms",
                    measure_authenticate_dynamodb_hit(client, n, key),
                    "p99",
                    "-",
                    {"samples": n},
                    {**path, "cache": "hit in DynamoDB only (cold process)"},
                ),
            ]
    print(render(figures))
    out = REPO_ROOT / ".local" / "bench-auth.json"
    write_json(out, figures, quick=args.quick, started=started)
    print(f"\nwritten to {out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
