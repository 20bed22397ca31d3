"""Rate-limiter cost, in-process, as a function the harness (``python -m bench``) calls.

:func:`measure_enforce` — the rate-limit guard's work for one customer
request (``chalicelib.ratelimit.service.enforce``): tier and limits from the
in-process caches, then one conditional ``UpdateItem`` on the ``metrics``
table (moto locally: its per-call floor, a plain ``UpdateItem``, is a few
milliseconds, roughly an in-region DynamoDB round trip).
"""
from __future__ import annotations

import time
import uuid


def measure_enforce(n: int, customer_id: uuid.UUID, warmup: int = 20) -> list[float]:
    from chalicelib.ratelimit import service

    samples = []
    for i in range(warmup + n):
        start = time.perf_counter()
        service.enforce(customer_id)
        if i >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return samples
