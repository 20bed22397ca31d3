"""The billing run at scale: its time, its memory, and its ratio to the one read it cannot avoid.

:func:`measure_billing` bills the period the harness generated, three times,
as the scheduled jobs would: a draft run that creates every invoice, an
unchanged re-run, then the finalizing run (freeze, e-mails, audit). Each run
is its own process (``python -c`` on ``billing.service.run``, as the Lambda
job is one invocation), so that its peak RSS is the run's own: the process
imports the runtime and opens its pool, resets the kernel's high-water mark
(``/proc/self/clear_refs``), notes its RSS (the baseline), runs, and reports
``VmHWM``, the peak since (the run's growth = peak - baseline).
Only ``billing.service.run`` is timed.

``billing_vs_scan_ratio`` divides the draft run's time by the time of
``SELECT customer_id, metric_code, sum(quantity) FROM usage_events WHERE
period = ... GROUP BY 1, 2``: the read every billing run must do, on the same
data, in the same run, as the same role and with the same ``work_mem`` as the
run's aggregation, fetched by the same client. It is run once to warm the
cache, then timed three times before the billing runs and twice after; the
median is the divisor (the default-``work_mem`` median is in ``detail``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import psycopg

from bench.data import count, create_customers, create_events
from bench.harness import Figure, fresh_stack
from devstack.stack import REPO_ROOT


def target_for(customers: int) -> str:
    """The run's target: 10 s at 10,000 customers, 60 s at 100,000 and more (issue 16)."""
    return "<= 60" if customers >= 100_000 else "<= 10"


SCAN = "SELECT customer_id, metric_code, sum(quantity) FROM usage_events WHERE period = %(period)s GROUP BY 1, 2"
RATIO_TARGET = "<= 3"

# One billing run in a process of its own; prints one JSON line.
RUN_IN_A_PROCESS = """
import json, resource, sys, time
from datetime import datetime
from pathlib import Path
from chalicelib.billing import service as billing
from chalicelib.core import db

def status_kib(field):  # VmRSS (now) or VmHWM (the peak since the last reset), from /proc
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

with db.operator_transaction() as conn:
    conn.execute("SELECT 1")  # the pool is open: its cost is not the run's
try:
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from now (Linux)
except OSError:
    pass
baseline = status_kib("VmRSS")
cpu = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
result = billing.run(sys.argv[1], finalize=sys.argv[2] == "finalize", now=datetime.fromisoformat(sys.argv[3]),
                     actor="system:bench")
seconds = time.perf_counter() - start
end = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "seconds": seconds,
    "baseline_rss_kib": baseline,
    "peak_rss_kib": status_kib("VmHWM"),
    "cpu_s": end.ru_utime + end.ru_stime - cpu.ru_utime - cpu.ru_stime,
    "result": result.model_dump(mode="json", exclude={"set_aside"}),
}))
"""


def _run_in_a_process(period: str, finalize: bool, now: str) -> dict[str, Any]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "runtime"), str(REPO_ROOT)])}
    mode = "finalize" if finalize else "draft"
    done = subprocess.run(
        [sys.executable, "-c", RUN_IN_A_PROCESS, period, mode, now],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"billing run ({mode}) failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def measure_scan(period_start: object, *, run_work_mem: bool, times: int) -> list[float]:
    """Seconds of :data:`SCAN` (fetched), ``times`` times, in operator transactions like the run's."""
    from chalicelib.billing.repository import AGGREGATION_WORK_MEM
    from chalicelib.core import db

    samples = []
    for _ in range(times):
        with db.operator_transaction(actor="system:bench") as conn:
            if run_work_mem:
                conn.execute(AGGREGATION_WORK_MEM)
            start = time.perf_counter()
            conn.execute(SCAN, {"period": period_start}).fetchall()
            samples.append(time.perf_counter() - start)
    return samples


def measure_billing(admin_url: str, *, period: str = "2026-10", target: str = "<= 10") -> list[Figure]:
    """``billing_run_s``, ``billing_finalize_s``, ``billing_vs_scan_ratio`` and ``billing_peak_rss_mib``."""
    from chalicelib.core.periods import parse_period

    month = parse_period(period)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        customers = count(conn, "SELECT count(*) FROM customers WHERE billing_start_date <= %s", (month.last_day,))
        events = count(conn, "SELECT count(*) FROM usage_events WHERE period = %s", (month.first_day,))
        existing = count(conn, "SELECT count(*) FROM invoices WHERE period = %s", (month.first_day,))
    now = (month.ends_at + timedelta(days=1)).isoformat()

    measure_scan(month.first_day, run_work_mem=True, times=1)  # warm
    scans = measure_scan(month.first_day, run_work_mem=True, times=3)
    default_scans = measure_scan(month.first_day, run_work_mem=False, times=2)
    draft = _run_in_a_process(period, False, now)
    rerun = _run_in_a_process(period, False, now)
    final = _run_in_a_process(period, True, now)
    scans += measure_scan(month.first_day, run_work_mem=True, times=2)
    scan_s = statistics.median(scans)

    size = {"customers": customers, "events": events}
    runs = {"draft": draft, "rerun_unchanged": rerun, "finalize": final}
    memory = {
        name: {
            "baseline_mib": round(r["baseline_rss_kib"] / 1024, 1),
            "peak_mib": round(r["peak_rss_kib"] / 1024, 1),
            "growth_mib": round((r["peak_rss_kib"] - r["baseline_rss_kib"]) / 1024, 1),
        }
        for name, r in runs.items()
    }
    common = {"period": period, "process": "one per run (python -c billing.service.run)"}
    detail = {
        "rerun_unchanged_s": round(rerun["seconds"], 3),
        "finalize_run_s": round(final["seconds"], 3),
        "invoices_created": draft["result"]["invoices_created"],
        "invoices_finalized": final["result"]["invoices_finalized"],
        "total_cents": draft["result"]["total_cents"],
        "cpu_s": {name: round(r["cpu_s"], 2) for name, r in runs.items()},
        "memory": memory,
    }
    return [
        Figure(
            "billing_run_s",
            round(draft["seconds"], 3),
            "s",
            target,
            size,
            params={**common, "finalize": False, "invoices_before": existing},
            detail=detail,
        ),
        Figure(
            "billing_finalize_s",
            round(final["seconds"], 3),
            "s",
            target,
            size,
            params={**common, "finalize": True, "after": "the draft run and an unchanged re-run"},
            detail={"invoices_finalized": final["result"]["invoices_finalized"], "cpu_s": round(final["cpu_s"], 2)},
        ),
        Figure(
            "billing_vs_scan_ratio",
            round(draft["seconds"] / scan_s, 2),
            "x",
            RATIO_TARGET,
            size,
            params={"scan": SCAN, "work_mem": "the run's (billing.repository.AGGREGATION_WORK_MEM)"},
            detail={
                "scan_s": round(scan_s, 3),
                "scan_samples_s": [round(s, 3) for s in scans],
                "scan_default_work_mem_s": round(statistics.median(default_scans), 3),
                "draft_s": round(draft["seconds"], 3),
                "finalize_ratio": round(final["seconds"] / scan_s, 2),
                "rerun_ratio": round(rerun["seconds"] / scan_s, 2),
            },
        ),
        Figure(
            "billing_peak_rss_mib",
            max(m["peak_mib"] for m in memory.values()),
            "MiB",
            "-",
            size,
            params={"measure": "ru_maxrss of the run's own process", **common},
            detail=memory,
        ),
    ]


def run_alone(sizes: dict[str, Any], period: str = "2026-10") -> list[Figure]:
    """``python -m bench --only billing [--scale N]``: the population and these four figures, on a stack of their own."""

    with fresh_stack("billing", sizes) as env:
        admin = env["ADMIN_DATABASE_URL"]
        customers = create_customers(admin, sizes["customers"], seed="bench")
        create_events(admin, customers, sizes["events"], period=f"{period}-01", seed="bench")
        return measure_billing(admin, period=period, target=target_for(sizes["customers"]))
