"""The chaos run (``make test-chaos``, inside ``make test``): mixed traffic from several tenants while
the database connections are killed, DynamoDB is down and then SES is down.

Over real HTTP against Chalice's local server (what ``make run`` serves), in a
thread of this process with its own local stack (embedded PostgreSQL, moto).
Worker threads act as clients of several tenants: they ingest usage (a batch
that was not acknowledged is sent again with the same event ids, honouring
``Retry-After``), read their profile, usage, keys, notifications and audit
trail, open and list tickets (each queues a confirmation e-mail) and
authenticate. A delivery loop plays the 5-minute notifications job, once a
second. The faults, in turn:

1. ``connection kill``: every backend of the application's login terminated
   at once, four times (an Aurora failover or RDS Proxy reset);
2. ``dynamodb outage``: the local endpoint answers 503 to every DynamoDB call;
3. ``ses outage``: the same for SES.

What must hold: no response is a 500 (no 5xx but 503); outside a fault
every answer is a success (or 429); during a fault only 503 and 429 besides;
no response of a tenant names another tenant's id; acknowledged usage
reconciles exactly with ``GET /metrics`` and with the rows stored; every
ticket's confirmation e-mail is sent exactly once once SES is back. The
figures (requests, statuses, p50/p99 per phase) are printed; they are quoted
in docs/RELIABILITY.md.
"""

from __future__ import annotations

import itertools
import logging
import random
import statistics
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests

from chalicelib.core import aws
from chalicelib.core.observability import logger
from chalicelib.notifications import service as notifications
from devstack.postgres import free_port
from devstack.server import local_server

TENANTS = 4
WORKERS = 8
BASELINE_S = 5.0
KILLS = 4
KILL_EVERY_S = 2.0
OUTAGE_S = 6.0
RECOVERY_S = 4.0
FAULT_PHASES = ("connection kill", "dynamodb outage", "ses outage")


@dataclass
class Tenant:
    customer_id: str
    email: str
    api_key: str
    token: str
    acknowledged: int = 0  # api_calls quantity acknowledged with a 200
    acknowledged_events: int = 0
    tickets: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}


class Recorder:
    def __init__(self) -> None:
        self.phase = "baseline"
        self.statuses: dict[str, Counter] = defaultdict(Counter)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.leaks: list[str] = []
        self.refusals: list[str] = []  # the non-2xx answers, to say what a failure was
        self.lock = threading.Lock()

    def record(self, phase: str, method: str, path: str, response: requests.Response, elapsed_ms: float) -> None:
        with self.lock:
            self.statuses[phase][response.status_code] += 1
            self.latencies[phase].append(elapsed_ms)
            if response.status_code >= 300:
                self.refusals.append(f"{phase}: {method} {path} {response.status_code} {response.text[:200]}")


@pytest.fixture(scope="module")
def api_url(chalice_app):
    level = logger.log_level
    logger.setLevel("WARNING")  # thousands of requests: only what went wrong, kept by ``degradations``
    port = free_port()
    server = local_server(chalice_app, "127.0.0.1", port)
    thread = threading.Thread(target=server.server.serve_forever, name="chaos-api", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server.server_close()
    thread.join(10)
    logger.setLevel(level)


class _Degradations(logging.Handler):
    """The application's warnings about lost connections and degraded dependencies, to explain a 503."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        what = getattr(record, "fallback", None) or getattr(record, "what", None) or ""
        self.seen[f"{record.getMessage()} [{what}] {getattr(record, 'error', '')}"] += 1


@pytest.fixture
def degradations():
    handler = _Degradations()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def _onboard(api_url: str, operator_key: str) -> list[Tenant]:
    session = requests.Session()
    token = session.post(f"{api_url}/auth/authenticate", json={"api_key": operator_key}).json()["token"]
    operator = {"Authorization": f"Bearer {token}"}
    tenants = []
    for n in range(TENANTS):
        email = f"chaos-{n}-{uuid.uuid4().hex[:8]}@example.test"
        created = session.post(
            f"{api_url}/admin/customers",
            headers=operator,
            json={"name": f"Chaos {n}", "email": email, "tier": "enterprise"},
        )
        assert created.status_code == 201, created.text
        document = created.json()
        api_key = document["api_key"]["key"]
        pair = session.post(f"{api_url}/auth/authenticate", json={"api_key": api_key}).json()
        tenants.append(
            Tenant(customer_id=document["customer"]["id"], email=email, api_key=api_key, token=pair["token"])
        )
    return tenants


class Client:
    """One worker: a tenant's client that retries what was not acknowledged, honouring Retry-After."""

    def __init__(self, api_url: str, tenants: list[Tenant], recorder: Recorder, seed: int) -> None:
        self.api_url = api_url
        self.tenants = tenants
        self.recorder = recorder
        self.random = random.Random(seed)
        self.session = requests.Session()
        self.ids = itertools.count()
        self.seed = seed

    def call(
        self, tenant: Tenant, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ) -> requests.Response:
        phase = self.recorder.phase
        started = time.perf_counter()
        response = self.session.request(
            method,
            f"{self.api_url}{path}",
            json=body,
            headers=headers if headers is not None else tenant.headers,
            timeout=60,
        )
        # A request in flight when a fault began belongs to the fault.
        if phase not in FAULT_PHASES:
            phase = self.recorder.phase
        self.recorder.record(phase, method, path, response, (time.perf_counter() - started) * 1000)
        self._check_isolation(tenant, method, path, response)
        return response

    def _check_isolation(self, tenant: Tenant, method: str, path: str, response: requests.Response) -> None:
        text = response.text
        for other in self.tenants:
            if other is not tenant and other.customer_id in text:
                self.recorder.leaks.append(f"{method} {path} of {tenant.customer_id} named {other.customer_id}")

    def wait(self, response: requests.Response) -> None:
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 5.0))

    def ingest(self, tenant: Tenant, stop: threading.Event) -> None:
        stamp = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        size = self.random.randint(1, 20)
        events = [
            {
                "event_id": f"w{self.seed}-{next(self.ids)}",
                "metric": "api_calls",
                "quantity": self.random.randint(1, 9),
                "timestamp": stamp,
            }
            for _ in range(size)
        ]
        while True:  # the same batch until it is acknowledged, even after the run's end (faults are over)
            response = self.call(tenant, "POST", "/metrics", {"events": events})
            if response.status_code == 200:
                body = response.json()
                assert body["accepted"] + body["duplicates"] == size
                with tenant.lock:
                    tenant.acknowledged += sum(e["quantity"] for e in events)
                    tenant.acknowledged_events += size
                return
            if response.status_code not in (429, 503):
                return  # an unexpected answer: the status assertions report it
            self.wait(response)

    def step(self, stop: threading.Event) -> None:
        tenant = self.random.choice(self.tenants)
        choice = self.random.random()
        if choice < 0.40:
            self.ingest(tenant, stop)
            return
        if choice < 0.50:
            response = self.call(
                tenant,
                "POST",
                "/support-tickets",
                {"subject": "Chaos", "body": "Help during a fault", "priority": "normal"},
            )
            if response.status_code == 201:
                with tenant.lock:
                    tenant.tickets.append(response.json()["id"])
        elif choice < 0.60:
            response = self.call(tenant, "POST", "/auth/authenticate", {"api_key": tenant.api_key}, headers={})
        else:
            path = self.random.choice(
                ["/customers/me", "/metrics", "/api-keys", "/notifications", "/audit-events", "/support-tickets"]
            )
            response = self.call(tenant, "GET", path)
            if path == "/customers/me" and response.status_code == 200:
                assert response.json()["id"] == tenant.customer_id
        if response.status_code in (429, 503):
            self.wait(response)


def _kill_connections(admin_url: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE usename = 'saas_app_user'"
        ).fetchone()[0]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def test_chaos(api_url, operator_key, stack, admin_url, capsys, degradations):
    tenants = _onboard(api_url, operator_key)
    recorder = Recorder()
    stop = threading.Event()
    workers = [Client(api_url, tenants, recorder, seed) for seed in range(WORKERS)]
    delivery_errors: list[str] = []

    def work(client: Client) -> None:
        while not stop.is_set():
            client.step(stop)

    def deliver() -> None:  # the 5-minute notifications job, every second
        while not stop.is_set():
            try:
                notifications.deliver_pending(include_failed=False, time_budget_s=5)
            except Exception as exc:  # noqa: BLE001 - a job failing in a fault is allowed, not a lost e-mail
                delivery_errors.append(type(exc).__name__)
            time.sleep(1)

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in workers]
    threads.append(threading.Thread(target=deliver, daemon=True))
    killed = 0
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        time.sleep(BASELINE_S)
        recorder.phase = "connection kill"
        for _ in range(KILLS):
            killed += _kill_connections(admin_url)
            time.sleep(KILL_EVERY_S)
        recorder.phase = "recovery 1"
        time.sleep(RECOVERY_S)
        with stack.aws.outage("dynamodb") as outages:
            recorder.phase = "dynamodb outage"
            time.sleep(OUTAGE_S)
            dynamodb_refused = outages.refused.get("dynamodb", 0)
            recorder.phase = "recovery 2"
        time.sleep(aws.COOLDOWN_S + RECOVERY_S)
        with stack.aws.outage("ses") as outages:
            recorder.phase = "ses outage"
            time.sleep(OUTAGE_S)
            ses_refused = outages.refused.get("ses", 0)
            recorder.phase = "recovery 3"
        time.sleep(aws.COOLDOWN_S + RECOVERY_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    elapsed = time.monotonic() - started

    # ---- figures
    total = sum(sum(counts.values()) for counts in recorder.statuses.values())
    lines = [
        (
            f"chaos run: {total} requests in {elapsed:.0f} s, {TENANTS} tenants, {WORKERS} clients;"
            f" backends killed {killed}, DynamoDB calls refused {dynamodb_refused}, SES calls refused {ses_refused}"
        )
    ]
    for phase in recorder.statuses:
        counts = dict(sorted(recorder.statuses[phase].items()))
        latencies = recorder.latencies[phase]
        lines.append(
            f"  {phase:16s} requests {len(latencies):5d}  statuses {counts}"
            f"  p50 {statistics.median(latencies) if latencies else 0:.1f} ms"
            f"  p99 {_percentile(latencies, 0.99):.1f} ms"
        )
    refusals = Counter(r[:170] for r in recorder.refusals)
    lines += [f"  refused: {n} x {what}" for what, n in refusals.most_common(8)]
    lines += [f"  logged: {n} x {what}" for what, n in degradations.seen.most_common(12)]
    with capsys.disabled():
        print("\n" + "\n".join(lines))

    # ---- what must hold
    assert killed >= KILLS and dynamodb_refused > 0 and ses_refused > 0, "a fault was not actually injected"
    assert not recorder.leaks, recorder.leaks[:5]
    for phase, counts in recorder.statuses.items():
        allowed = {200, 201, 429} | ({503} if phase in FAULT_PHASES else set())
        assert set(counts) <= allowed, (phase, counts, [r for r in recorder.refusals if r.startswith(phase)][:5])
    assert all(recorder.statuses[phase].get(200, 0) > 0 for phase in recorder.statuses), "a phase served nothing"

    # Exact reconciliation: every batch was resent until acknowledged, so what is stored and what
    # GET /metrics reports is exactly what was acknowledged; no event is stored twice.
    period = datetime.now(UTC).strftime("%Y-%m")
    session = requests.Session()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for tenant in tenants:
            usage = session.get(f"{api_url}/metrics?period={period}", headers=tenant.headers).json()
            api_calls = {m["metric"]: m["quantity"] for m in usage["metrics"]}.get("api_calls", "0")
            stored = conn.execute(
                "SELECT count(*), count(DISTINCT event_id), coalesce(sum(quantity), 0) FROM usage_events"
                " WHERE customer_id = %s",
                (tenant.customer_id,),
            ).fetchone()
            assert (stored[0], stored[1], int(stored[2]), api_calls) == (
                tenant.acknowledged_events,
                tenant.acknowledged_events,
                tenant.acknowledged,
                str(tenant.acknowledged),
            ), ("rows, distinct event ids, quantity, GET /metrics", recorder.refusals[:10])

    # E-mails: every ticket's confirmation sent exactly once once SES is back.
    aws.reset_breakers()
    notifications.deliver_pending(include_failed=True)
    # A claim whose COMMIT died in a connection kill may have left a lease (5 minutes) on a row
    # it never sent: that row goes out when the lease ends. Let the time pass for those rows
    # only (a row SES took is marked sent, so it has no lease left), then deliver again.
    with psycopg.connect(admin_url, autocommit=True) as conn:
        leased = conn.execute(
            "UPDATE notifications SET sending_until = now() - interval '1 second'"
            " WHERE status = 'queued' AND sending_until > now() AND customer_id = ANY(%s::uuid[])",
            ([t.customer_id for t in tenants],),
        ).rowcount
    if leased:
        with capsys.disabled():
            print(f"  e-mails whose claim was lost to a kill, sent after their lease: {leased}")
        notifications.deliver_pending(include_failed=True)
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"][stack.env["AWS_REGION"]]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for tenant in tenants:
            statuses = Counter(
                row[0]
                for row in conn.execute(
                    "SELECT status FROM notifications WHERE customer_id = %s", (tenant.customer_id,)
                )
            )
            assert statuses == Counter({"sent": len(tenant.tickets)}), (tenant.email, statuses)
            sent = [
                m
                for m in backend.sent_messages
                if tenant.email in getattr(m, "destinations", {}).get("ToAddresses", [])
            ]
            assert len(sent) == len(tenant.tickets)
