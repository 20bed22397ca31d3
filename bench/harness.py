"""Figures, percentiles, the printed table and ``.local/bench.json``."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WARMUP = 100
MIN_SAMPLES = 1000


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    data_size: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        op, _, bound = self.target.partition(" ")
        if not bound:
            return None
        limit = float(bound)
        return self.value <= limit if op == "<=" else self.value >= limit


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 is an observed sample)."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def sample_ms(fn: Callable[[], Any], n: int, warmup: int = WARMUP) -> list[float]:
    """Run ``fn`` ``warmup`` times unmeasured, then ``n`` times; return each call's milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "samples": len(samples),
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "max_ms": round(max(samples), 3),
    }


def machine() -> dict[str, Any]:
    import os

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def render(figures: list[Figure]) -> str:
    rows = [("figure", "value", "unit", "target", "met", "data size")]
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        size = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in f.data_size.items())
        rows.append((f.name, f"{f.value:,.3f}" if f.value < 1000 else f"{f.value:,.0f}", f.unit, f.target, met, size))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: Path, figures: list[Figure], *, quick: bool, started: float, scale: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "quick": quick,
        "scale": scale,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": machine(),
        "figures": {f.name: {**asdict(f), "met": f.met} for f in figures},
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")


@contextlib.contextmanager
def fresh_stack(name: str, sizes: dict[str, Any]) -> Iterator[dict[str, str]]:
    """A local stack of its own for a bench module run alone: ``.local/bench-<name>``, wiped first.

    Yields the runtime environment ``LocalStack.start`` returns (``ADMIN_DATABASE_URL`` among it)
    and stops the stack afterwards; the metrics and the INFO logs are off, as in the full run.
    """
    from devstack.stack import REPO_ROOT, LocalStack

    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    state = REPO_ROOT / ".local" / f"bench-{name}"
    shutil.rmtree(state, ignore_errors=True)
    stack = LocalStack(state_dir=state, bcrypt_cost=sizes["bcrypt_cost"])
    env = stack.start()
    try:
        yield env
    finally:
        stack.stop()
