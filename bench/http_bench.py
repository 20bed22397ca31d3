"""Load over HTTP (issue 16): 16 clients, a mixed tenant workload, and which resource saturates first.

The local stack is started as ``make run`` starts it (``python -m devstack``
in a child process, its own state directory and ports: ``devstack.spawn``),
with one difference: the AWS stand-in (moto, ``devstack.aws.LocalAws``) runs
in a process of its own, started here and handed to the stack through
``AWS_ENDPOINT_URL``, instead of as threads of the app's process. So the
app's process holds only the app (its CPU is the app's, as a Lambda's would
be), and moto, which stands in for DynamoDB/KMS/SES on other machines, neither
shares the app's GIL nor hides in its CPU time.

Tenants are made over HTTP with the operator key of ``stack.json``: eight
customers of three tiers (enterprise, growth, starter, so rate limits apply),
each with last month's usage billed and finalized (invoices, queued
e-mails), a support ticket and a usage alert. Then ``clients`` threads (two
per tenant), each with its own keep-alive connection (urllib3), send a fixed
mix for ``duration_s``: the customer's read paths and ``POST /metrics``
batches of 100 events. A ``429`` is honoured (the client sleeps its
``Retry-After``) and counted, never retried blindly.

Reported: ``http_requests_per_s`` (answers other than ``429`` per second) and
``http_p99_ms`` (their latency). ``detail`` has the counts by status and path,
the ``5xx`` count (must be 0: the run fails otherwise), and the CPU of each
process sampled every half second from ``/proc`` through psutil (the app's
process, PostgreSQL's server processes, moto's process, this load
generator), as % of one core (mean and peak) and as CPU-ms per request. The
verdict (``detail.saturated``) names the resource nearest its limit: one
Python process cannot use more than about 100% of one core for Python code
(the GIL), PostgreSQL can use both cores, and the machine has two in all.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import psycopg
import urllib3
from psycopg.rows import dict_row

from bench import cost_model
from bench.harness import Figure, percentile, summarize
from devstack.postgres import free_port
from devstack.spawn import spawned_stack
from devstack.stack import REPO_ROOT

JSON = {"Content-Type": "application/json"}
TIERS = ("enterprise", "growth", "growth", "starter", "enterprise", "growth", "enterprise", "growth")
EVENTS_PER_POST = 100
SAMPLE_EVERY_S = 0.5
MAX_SLEEP_S = 5.0
# The mix: (weight, method, path). Reads a customer's portal and integrations make, and ingestion.
MIX: tuple[tuple[int, str, str], ...] = (
    (20, "GET", "/metrics"),
    (15, "GET", "/customers/me"),
    (12, "GET", "/invoices?limit=50"),
    (8, "GET", "/invoices/upcoming"),
    (10, "GET", "/notifications"),
    (10, "GET", "/support-tickets"),
    (5, "GET", "/usage-alerts"),
    (5, "GET", "/api-keys"),
    (15, "POST", "/metrics"),
)
AWS_SERVER = (
    "import signal, sys, threading\n"
    "from devstack.aws import LocalAws\n"
    "aws = LocalAws(int(sys.argv[1])); aws.start()\n"
    "stop = threading.Event(); signal.signal(signal.SIGTERM, lambda *_: stop.set())\n"
    "print('ready', flush=True); stop.wait(); aws.stop()\n"
)


# ---------------------------------------------------------------- the stack and its processes


@contextlib.contextmanager
def aws_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """moto (``devstack.aws.LocalAws``) in a process of its own; its endpoint and process."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "runtime"), str(REPO_ROOT)])}
    process = subprocess.Popen(
        [sys.executable, "-c", AWS_SERVER, str(port)], cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE
    )
    try:
        if process.stdout is None or process.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the AWS stand-in did not start (exit {process.poll()})")
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def stack_processes(aws: subprocess.Popen[bytes]) -> dict[str, list[psutil.Process]]:
    """The app's process (the ``python -m devstack`` child), PostgreSQL's server processes, moto's process."""
    me = psutil.Process()
    children = [p for p in me.children() if p.pid != aws.pid]
    apps = [p for p in children if "devstack" in " ".join(p.cmdline())]
    if len(apps) != 1:
        raise RuntimeError(f"expected one python -m devstack child, found {[p.cmdline() for p in children]}")
    app = apps[0]
    state = Path(app.environ()["LOCAL_STATE_DIR"])
    [pid_file] = state.glob("**/postmaster.pid")
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    return {"app": [app], "postgres": [postmaster], "moto": [psutil.Process(aws.pid)], "load generator": [me]}


def superuser_url(postgres: psutil.Process) -> str:
    """The stack's PostgreSQL as its superuser (trust on loopback), from the port in ``postmaster.pid``."""
    from chalicelib.core.contract import DATABASE_NAME
    from devstack.postgres import SUPERUSER

    data_dir = Path(postgres.cwd())
    port = int((data_dir / "postmaster.pid").read_text().splitlines()[3])
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE_NAME}"


DB_COUNTERS = """
SELECT (SELECT sum(blks_read) FROM pg_stat_database)::bigint AS blocks_read,
       (SELECT sum(blks_hit) FROM pg_stat_database)::bigint AS blocks_hit,
       (SELECT sum(xact_commit) FROM pg_stat_database)::bigint AS commits,
       (SELECT wal_bytes FROM pg_stat_wal)::bigint AS wal_bytes,
       (SELECT wal_records FROM pg_stat_wal)::bigint AS wal_records
"""


def db_counters(url: str) -> dict[str, int]:
    """Cumulative block reads and hits, commits and WAL written: Aurora's read and write I/O stand-ins."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute(DB_COUNTERS).fetchone()
    return {key: int(value) for key, value in (row or {}).items()}


class CpuSampler:
    """CPU seconds of process groups (a process and, for PostgreSQL, its children), sampled in a thread."""

    def __init__(self, groups: dict[str, list[psutil.Process]], with_children: tuple[str, ...] = ("postgres",)):
        self.groups = groups
        self.with_children = with_children
        self.last: dict[int, float] = {}
        self.totals: dict[str, float] = dict.fromkeys(groups, 0.0)
        self.peaks: dict[str, float] = dict.fromkeys(groups, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.started = self.stopped = 0.0
        self.machine_busy: list[float] = []

    def _members(self, name: str) -> list[psutil.Process]:
        members = list(self.groups[name])
        if name in self.with_children:
            for process in self.groups[name]:
                with contextlib.suppress(psutil.Error):
                    members += process.children(recursive=True)
        return members

    def _sample(self) -> dict[str, float]:
        """CPU seconds used by each group since the last sample (only processes seen before count)."""
        used: dict[str, float] = {}
        for name in self.groups:
            delta = 0.0
            for process in self._members(name):
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                now = times.user + times.system
                delta += now - self.last.get(process.pid, now)
                self.last[process.pid] = now
            used[name] = delta
        return used

    def _run(self) -> None:
        previous = time.perf_counter()
        while not self._stop.wait(SAMPLE_EVERY_S):
            now = time.perf_counter()
            for name, seconds in self._sample().items():
                self.totals[name] += seconds
                self.peaks[name] = max(self.peaks[name], seconds / (now - previous))
            self.machine_busy.append(psutil.cpu_percent(None))
            previous = now

    def start(self) -> None:
        self._sample()
        psutil.cpu_percent(None)
        self.started = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.stopped = time.perf_counter()
        for name, seconds in self._sample().items():  # the last partial interval
            self.totals[name] += seconds

    def report(self, requests: int) -> dict[str, Any]:
        wall = self.stopped - self.started
        return {
            name: {
                "cpu_s": round(self.totals[name], 3),
                "mean_pct_of_one_core": round(100 * self.totals[name] / wall, 1),
                "peak_pct_of_one_core": round(100 * self.peaks[name], 1),
                "cpu_ms_per_request": round(1000 * self.totals[name] / max(requests, 1), 3),
            }
            for name in self.groups
        }


def saturated(cpu: dict[str, Any], machine_busy_pct: float, cores: int) -> str:
    """The resource nearest its limit: the app's GIL (one core), PostgreSQL or the machine (all cores), moto's GIL.

    ``machine_busy_pct`` is of all cores (100 = every core busy); what the
    stack and the load generator do not account for is other work on the machine.
    """
    shares = {
        "app": cpu["app"]["mean_pct_of_one_core"] / 100,
        "moto": cpu["moto"]["mean_pct_of_one_core"] / 100,
        "postgres": cpu["postgres"]["mean_pct_of_one_core"] / (100 * cores),
    }
    nearest = max(shares, key=lambda name: shares[name])
    limit = "one core (one Python process: the GIL)" if nearest in ("app", "moto") else f"{cores} cores"
    verdict = f"{nearest}: {100 * shares[nearest]:.0f}% of its limit of {limit}"
    if machine_busy_pct >= 90:
        ours = sum(group["mean_pct_of_one_core"] for group in cpu.values())
        others = max(0.0, machine_busy_pct * cores - ours)
        verdict = (
            f"the machine's {cores} cores ({machine_busy_pct:.0f}% busy: {ours:.0f}% of one core is the stack "
            f"and the load generator, {others:.0f}% other work); nearest its own limit, {verdict}"
        )
    return verdict


# ---------------------------------------------------------------- tenants


def _call(http: urllib3.PoolManager, base: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    for _ in range(20):
        response = http.request(method, base + path, body=None if body is None else json.dumps(body), headers=headers)
        if response.status == 429:
            time.sleep(min(float(response.headers.get("Retry-After") or 1), MAX_SLEEP_S))
            continue
        if not 200 <= response.status < 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {response.data[:300]!r}")
        return json.loads(response.data) if response.data else None
    raise RuntimeError(f"{method} {path}: still 429 after 20 tries")


def _events(prefix: str, count: int, at: datetime) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "metric": "compliance_scans" if i % 10 == 0 else "api_calls",
            "quantity": 1 + i % 5,
            "timestamp": (at - timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
        }
        for i in range(count)
    ]


def make_tenants(base: str, operator_key: str, count: int) -> list[str]:
    """``count`` customers over HTTP, last month billed and finalized; each one's bearer token."""
    http = urllib3.PoolManager()
    operator = _call(http, base, "POST", "/auth/authenticate", {"api_key": operator_key})["token"]
    now = datetime.now(UTC)
    last_month_end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)
    tokens = []
    for i in range(count):
        body = {"name": f"Load {i}", "email": f"load-{uuid.uuid4().hex[:10]}@example.test", "tier": TIERS[i % 8]}
        created = _call(http, base, "POST", "/admin/customers", body, operator)
        token = _call(http, base, "POST", "/auth/authenticate", {"api_key": created["api_key"]["key"]})["token"]
        _call(http, base, "POST", "/metrics", {"events": _events(f"last-{i}", 500, last_month_end)}, token)
        _call(http, base, "POST", "/metrics", {"events": _events(f"now-{i}", 500, now)}, token)
        _call(http, base, "POST", "/support-tickets", {"subject": "Load test", "body": "A ticket to list."}, token)
        _call(http, base, "POST", "/usage-alerts", {"metric": "api_calls", "threshold": "10000000000"}, token)
        tokens.append(token)
    _call(
        http,
        base,
        "POST",
        "/admin/billing-runs",
        {"period": last_month_end.strftime("%Y-%m"), "finalize": True},
        operator,
    )
    return tokens


# ---------------------------------------------------------------- the load


class Client(threading.Thread):
    """One client: its tenant's token, its own keep-alive connection, the mix until the deadline."""

    def __init__(self, index: int, base: str, token: str, deadline: float) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.index, self.token, self.deadline = index, token, deadline
        self.pool = urllib3.connection_from_url(base, maxsize=1, retries=False, timeout=60)
        self.random = random.Random(index)
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.slept_s = 0.0
        self.error: BaseException | None = None
        self.sent = 0

    def _request(self) -> tuple[str, str, str | None]:
        choices = [(method, path) for _, method, path in MIX]
        method, path = self.random.choices(choices, weights=[w for w, _, _ in MIX])[0]
        body = None
        if method == "POST":
            self.sent += 1
            body = json.dumps({"events": _events(f"c{self.index}-{self.sent}", EVENTS_PER_POST, datetime.now(UTC))})
        return method, path, body

    def run(self) -> None:
        headers = {**JSON, "Authorization": f"Bearer {self.token}"}
        try:
            while time.perf_counter() < self.deadline:
                method, path, body = self._request()
                start = time.perf_counter()
                response = self.pool.urlopen(method, path, body=body, headers=headers)
                elapsed = (time.perf_counter() - start) * 1000
                self.statuses[str(response.status)] += 1
                if response.status == 429:
                    pause = min(float(response.headers.get("Retry-After") or 1), MAX_SLEEP_S)
                    pause = max(0.0, min(pause, self.deadline - time.perf_counter()))
                    self.slept_s += pause
                    time.sleep(pause)
                    continue
                self.latencies.append(elapsed)
                self.by_path[f"{method} {path.split('?')[0]}"] += 1
        except Exception as exc:  # noqa: BLE001 - reported by measure_http: a client that died fails the run
            self.error = exc


def measure_http(
    info: dict[str, Any], aws: subprocess.Popen[bytes], *, clients: int, duration_s: float, tenants: int = 8
) -> list[Figure]:
    base = info["api_url"]
    tokens = make_tenants(base, info["operator_api_key"], tenants)
    processes = stack_processes(aws)
    admin_url = superuser_url(processes["postgres"][0])
    sampler = CpuSampler(processes)
    before = db_counters(admin_url)
    deadline = time.perf_counter() + duration_s
    workers = [Client(i, base, tokens[i % tenants], deadline) for i in range(clients)]
    sampler.start()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sampler.stop()
    after = db_counters(admin_url)
    errors = [repr(w.error) for w in workers if w.error is not None]
    if errors:
        raise RuntimeError(f"clients failed: {errors}")
    latencies = [ms for w in workers for ms in w.latencies]
    statuses = sum((w.statuses for w in workers), Counter())
    by_path = sum((w.by_path for w in workers), Counter())
    server_errors = sum(n for status, n in statuses.items() if status.startswith("5"))
    if server_errors:
        raise RuntimeError(f"{server_errors} answers were 5xx: {dict(statuses)}")
    wall = sampler.stopped - sampler.started
    answered = len(latencies)
    cpu = sampler.report(answered)
    cores = psutil.cpu_count() or 1
    busy = sum(sampler.machine_busy) / max(len(sampler.machine_busy), 1)
    size = {"clients": clients, "tenants": tenants, "duration_s": duration_s, "requests": answered}
    params = {
        "server": "python -m devstack in a child process (make run's server), moto in a process of its own",
        "mix": {f"{method} {path}": weight for weight, method, path in MIX},
        "events_per_post": EVENTS_PER_POST,
        "tiers": list(TIERS[:tenants]),
        "in_process": False,
    }
    events = by_path.get("POST /metrics", 0) * EVENTS_PER_POST
    database: dict[str, float] = {key: after[key] - before[key] for key in after}
    database |= {
        "blocks_read_per_request": round(database["blocks_read"] / max(answered, 1), 3),
        "wal_bytes_per_request": round(database["wal_bytes"] / max(answered, 1), 1),
        "wal_bytes_per_event": round(database["wal_bytes"] / max(events, 1), 1),
    }
    detail = {
        "latency": summarize(latencies),
        "statuses": dict(statuses),
        "by_path": dict(by_path),
        "http_5xx": server_errors,
        "http_429": statuses.get("429", 0),
        "slept_after_429_s": round(sum(w.slept_s for w in workers), 1),
        "events_ingested": events,
        "cpu": cpu,
        "database": database,
        "machine_busy_pct": round(busy, 1),
        "cores": cores,
        "wall_s": round(wall, 2),
        "saturated": saturated(cpu, busy, cores),
    }
    storage = cost_model.measure_storage(admin_url)
    return [
        storage,
        Figure("http_requests_per_s", round(answered / wall, 1), "requests/s", "-", size, params, detail),
        Figure(
            "http_p99_ms",
            round(percentile(latencies, 99), 2),
            "ms",
            "-",
            size,
            params,
            {"p50_ms": round(percentile(latencies, 50), 2), "see": "http_requests_per_s.detail"},
        ),
    ]


def run_alone(sizes: dict[str, Any]) -> list[Figure]:
    """``python -m bench --only http``: the load against a fresh stack (``make run``'s) of its own."""
    with (
        aws_process() as (endpoint, aws),
        spawned_stack(
            prefix="saas-http-bench-",
            env={"AWS_ENDPOINT_URL": endpoint, "BCRYPT_COST": "4", "POWERTOOLS_LOG_LEVEL": "WARNING"},
            show_output=False,
        ) as info,
    ):
        return measure_http(info, aws, clients=sizes["http_clients"], duration_s=sizes["http_duration_s"])
