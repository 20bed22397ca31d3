"""The monthly cost table of docs/DEPLOYMENT.md, computed from measured work (issue 16).

``python -m bench.cost_model [bench.json ...]`` reads the figures of one or
more bench files (later files win; default ``.local/bench.json``, then
``.local/bench-http.json``) and prints the table as Markdown, for 10 / 100 /
1,000 / 10,000 / 100,000 customers. What it takes from the measurements:

* **Lambda**: the app process's CPU-ms per request under the HTTP load
  (``http_requests_per_s.detail.cpu.app``). Lambda bills wall time at the
  configured memory, and gives a function a share of a vCPU proportional to
  it (one vCPU at 1,769 MB), so a request's billed time is its CPU time
  stretched by that share plus the time it waits on the network
  (:attr:`Assumptions.io_wait_ms`, an assumption: the in-region round trips).
* **Aurora compute**: PostgreSQL's CPU-ms per request under the same load,
  turned into ACUs (:attr:`Assumptions.vcpu_per_acu`, kept at
  :attr:`Assumptions.acu_utilisation` so peaks fit).
* **Aurora storage**: bytes per stored event (``usage_bytes_per_event``: the
  usage table with its indexes and any idempotency key table, over their
  rows), times the events kept online.
* **Aurora I/O**: WAL bytes per request under the load, in 4 KiB write units,
  and blocks read from outside the buffer cache per request.

Everything else (prices, the fixed floor, requests and events per customer)
is an assumption, stated in :class:`Assumptions` and printed with the table.
:func:`measure_storage` is the measurement of ``usage_bytes_per_event``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench.harness import Figure

CUSTOMERS = (10, 100, 1_000, 10_000, 100_000)
HOURS = 730
SECONDS = HOURS * 3600

# Tables holding one row per event: usage_events (its partitions, if partitioned) and key tables.
STORAGE = """
WITH tables AS (
    SELECT 'usage_events'::regclass AS rel
    UNION
    SELECT c.oid::regclass
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
     WHERE i.indisunique AND c.relname <> 'usage_events' AND NOT c.relispartition
       AND c.relnamespace = current_schema()::regnamespace
       AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = ARRAY['customer_id', 'event_id']
)
SELECT t.rel::text AS name,
       coalesce((SELECT sum(pg_total_relation_size(p.relid)) FROM pg_partition_tree(t.rel) AS p),
                pg_total_relation_size(t.rel))::bigint AS bytes
  FROM tables t ORDER BY 1
"""


def measure_storage(admin_url: str) -> Figure:
    """``usage_bytes_per_event``: the per-event tables with their indexes and TOAST, over the events stored."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE usage_events")  # settled sizes: what a month later holds
        tables = {str(name): int(size) for name, size in conn.execute(STORAGE)}
        row = conn.execute("SELECT count(*) FROM usage_events").fetchone()
    rows = int(row[0]) if row else 0
    return Figure(
        "usage_bytes_per_event",
        round(sum(tables.values()) / max(rows, 1), 1),
        "bytes",
        "-",
        {"events": rows},
        params={"what": "pg_total_relation_size of the per-event tables (all partitions, indexes) / events"},
        detail={"bytes_by_table": tables},
    )


@dataclass(frozen=True)
class Assumptions:
    """What is not measured here. Prices: us-east-1 list prices as docs/DEPLOYMENT.md states them."""

    prices_as_of: str = "the list prices docs/DEPLOYMENT.md gives (written 2026-11; re-check before budgeting)"
    requests_per_customer: int = 100_000  # per month: authentication, usage batches, reads
    events_per_customer: int = 1_000  # per month: 100 M events at 100,000 customers (issue 16)
    retention_months: int = 13  # usage rows online: the current month + a year
    lambda_memory_mb: int = 1024
    io_wait_ms: float = 10.0  # per request: PostgreSQL and DynamoDB round trips in-region
    vcpu_per_acu: float = 0.25  # 1 ACU: 2 GiB and about a quarter of a vCPU
    acu_utilisation: float = 0.5  # average CPU kept at half of what the ACUs give, for peaks
    aurora_instances: int = 2  # writer + reader in promotion tier 0/1, which scales with the writer
    aurora_min_acu: float = 0.5
    dynamodb_writes_per_request: float = 1.0  # the rate limiter's counter
    dynamodb_reads_per_request: float = 0.1  # verification cache on authentication
    log_kb_per_request: float = 1.0
    emails_per_customer: int = 3
    nat_mb_per_customer: float = 6.0
    # Prices.
    acu_hour: float = 0.12
    proxy_acu_hour: float = 0.015
    proxy_min_acu: int = 8
    storage_gb_month: float = 0.10
    io_million: float = 0.20
    apigw_million: float = 3.50
    lambda_gb_s: float = 0.0000166667
    lambda_million: float = 0.20
    dynamodb_write_million: float = 0.625
    dynamodb_read_million: float = 0.125
    logs_gb: float = 0.50
    xray_million: float = 5.0
    ses_thousand: float = 0.10
    nat_gb: float = 0.045
    endpoints_month: float = 43.80  # 3 interface endpoints x 2 AZs
    nat_month: float = 65.70  # 2 NAT gateways
    alarms_dashboard_month: float = 5.00
    kms_secrets_month: float = 2.60


@dataclass(frozen=True)
class Measured:
    app_cpu_ms: float  # per request, the app's process
    db_cpu_ms: float  # per request, PostgreSQL
    bytes_per_event: float
    wal_bytes_per_request: float
    blocks_read_per_request: float
    source: str


def measured(figures: dict[str, Any], source: str) -> Measured:
    http = figures["http_requests_per_s"]["detail"]
    return Measured(
        app_cpu_ms=http["cpu"]["app"]["cpu_ms_per_request"],
        db_cpu_ms=http["cpu"]["postgres"]["cpu_ms_per_request"],
        bytes_per_event=figures["usage_bytes_per_event"]["value"],
        wal_bytes_per_request=http["database"]["wal_bytes_per_request"],
        blocks_read_per_request=http["database"]["blocks_read_per_request"],
        source=source,
    )


def monthly(customers: int, m: Measured, a: Assumptions) -> dict[str, float]:
    """Dollars per line item for ``customers`` customers."""
    requests = customers * a.requests_per_customer
    cpu_share = min(a.lambda_memory_mb / 1769, 1.0)
    billed_s = (m.app_cpu_ms / cpu_share + a.io_wait_ms) / 1000
    db_cpu_s = requests * m.db_cpu_ms / 1000
    acu = max(a.aurora_min_acu, db_cpu_s / SECONDS / a.vcpu_per_acu / a.acu_utilisation)
    stored_gb = customers * a.events_per_customer * a.retention_months * m.bytes_per_event / 1e9
    ios = requests * (m.wal_bytes_per_request / 4096 + m.blocks_read_per_request)
    free_xray = 100_000
    reservoir = SECONDS  # 1 trace a second, then 5 %
    traces = min(requests, reservoir) + 0.05 * max(0, requests - reservoir)
    return {
        "Aurora compute": a.aurora_instances * acu * HOURS * a.acu_hour,
        "RDS Proxy": max(a.proxy_min_acu, a.aurora_instances * acu) * HOURS * a.proxy_acu_hour,
        "Aurora storage + I/O": stored_gb * a.storage_gb_month + ios / 1e6 * a.io_million,
        "VPC endpoints": a.endpoints_month,
        "NAT gateways + data": a.nat_month + customers * a.nat_mb_per_customer / 1024 * a.nat_gb,
        "API Gateway": requests / 1e6 * a.apigw_million,
        "Lambda": requests * billed_s * a.lambda_memory_mb / 1024 * a.lambda_gb_s + requests / 1e6 * a.lambda_million,
        "DynamoDB": requests
        * (
            a.dynamodb_writes_per_request * a.dynamodb_write_million
            + a.dynamodb_reads_per_request * a.dynamodb_read_million
        )
        / 1e6,
        "CloudWatch logs, alarms, dashboard": requests * a.log_kb_per_request / 1e6 * a.logs_gb
        + a.alarms_dashboard_month,
        "X-Ray": max(0.0, traces - free_xray) / 1e6 * a.xray_million,
        "KMS, secrets, SES": a.kms_secrets_month + customers * a.emails_per_customer / 1000 * a.ses_thousand,
        "_acu": acu,
        "_stored_gb": stored_gb,
        "_billed_ms": billed_s * 1000,
    }


def _money(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def table(m: Measured, a: Assumptions) -> str:
    """The Markdown table: a row per line item, a column per number of customers."""
    columns = {n: monthly(n, m, a) for n in CUSTOMERS}
    items = [name for name in columns[CUSTOMERS[0]] if not name.startswith("_")]
    head = "| item | " + " | ".join(f"{n:,} customers" for n in CUSTOMERS) + " |"
    lines = [head, "|---|" + "---:|" * len(CUSTOMERS)]
    lines.append(
        "| requests / month | " + " | ".join(f"{n * a.requests_per_customer / 1e6:,.0f} M" for n in CUSTOMERS) + " |"
    )
    lines.append(
        "| events / month | " + " | ".join(f"{n * a.events_per_customer / 1e6:,.2f} M" for n in CUSTOMERS) + " |"
    )
    lines.append(
        "| Aurora ACU (each instance, avg) | " + " | ".join(f"{columns[n]['_acu']:,.2f}" for n in CUSTOMERS) + " |"
    )
    lines.append(
        "| usage rows online (GB) | " + " | ".join(f"{columns[n]['_stored_gb']:,.2f}" for n in CUSTOMERS) + " |"
    )
    lines += [f"| {item} | " + " | ".join(_money(columns[n][item]) for n in CUSTOMERS) + " |" for item in items]
    totals = {n: sum(v for k, v in columns[n].items() if not k.startswith("_")) for n in CUSTOMERS}
    lines.append("| **total / month** | " + " | ".join(f"**{_money(totals[n])}**" for n in CUSTOMERS) + " |")
    lines.append("| **per customer / month** | " + " | ".join(f"**${totals[n] / n:,.2f}**" for n in CUSTOMERS) + " |")
    return "\n".join(lines)


def inputs(m: Measured, a: Assumptions) -> str:
    billed = monthly(CUSTOMERS[0], m, a)["_billed_ms"]
    return "\n".join(
        [
            (
                f"Measured ({m.source}): app CPU {m.app_cpu_ms} ms/request, PostgreSQL CPU {m.db_cpu_ms} ms/request, "
                f"{m.bytes_per_event} bytes/event stored, {m.wal_bytes_per_request} WAL bytes/request, "
                f"{m.blocks_read_per_request} blocks read/request."
            ),
            f"Lambda billed time per request: {billed:.1f} ms at {a.lambda_memory_mb} MB.",
            "Assumptions: " + ", ".join(f"{key}={value}" for key, value in asdict(a).items()),
        ]
    )


def load(paths: list[Path]) -> tuple[dict[str, Any], str]:
    figures: dict[str, Any] = {}
    used = []
    for path in paths:
        if path.exists():
            document = json.loads(path.read_text())
            figures |= document["figures"]
            used.append(f"{path.name} {document['started_at']}{' quick' if document['quick'] else ''}")
    return figures, "; ".join(used)


def main(argv: list[str] | None = None) -> int:
    from devstack.stack import REPO_ROOT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="bench JSON files, later ones win")
    args = parser.parse_args(argv)
    local = REPO_ROOT / ".local"
    figures, source = load(args.files or [local / "bench.json", local / "bench-http.json"])
    if "http_requests_per_s" not in figures or "usage_bytes_per_event" not in figures:
        print("no HTTP load figures: run `python -m bench --only http` (or make bench) first", file=sys.stderr)
        return 1
    m, a = measured(figures, source), Assumptions()
    print(table(m, a))
    print()
    print(inputs(m, a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
