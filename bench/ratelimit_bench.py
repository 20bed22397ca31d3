"""Rate-limiter cost, in-process, as a function the harness (``python -m bench``) calls.

:func:`measure_enforce` — the rate-limit guard's work for one customer
request (``chalicelib.ratelimit.service.enforce``): tier and limits from the
in-process caches, then one conditional ``UpdateItem`` on the ``metrics``
table (moto locally: its per-call floor, a plain ``UpdateItem``, is a few
milliseconds, roughly an in-region DynamoDB round trip).
"""

from __future__ import annotations

import uuid

from bench.harness import sample_ms


def measure_enforce(n: int, customer_id: uuid.UUID, warmup: int = 20) -> list[float]:
    from chalicelib.ratelimit import service

    return sample_ms(lambda: service.enforce(customer_id), n, warmup)
