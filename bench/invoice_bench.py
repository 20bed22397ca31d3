"""Invoices and webhooks (issue 14), in-process, as functions the harness (``python -m bench``) calls.

:func:`measure_invoices` returns three figures:

* ``invoice_pdf_p50_ms`` — ``GET /invoices/{id}/pdf`` (``Accept: application/pdf``)
  through ``chalice.test.Client``, median. The invoice is a real one: an
  enterprise customer ingests both metrics beyond what its tier includes
  through ``POST /metrics`` and ``POST /admin/billing-runs`` bills and
  finalizes it, so it has every line an invoice of this catalog has (the base
  fee and one per metric), a discount and tax. It is rendered on every request
  (``invoices.service.invoice_pdf``); ``detail`` splits off the service call
  and the render alone.
* ``upcoming_invoice_p99_ms`` — ``GET /invoices/upcoming`` for a customer whose
  current month holds ``upcoming_events`` events, sent through ``POST /metrics``
  (the normal ingestion path keeps the monthly totals the preview reads).
* ``webhook_fanout_per_s`` — deliveries per second from our sender to a local
  receiver (``http.server`` on 127.0.0.1 answering 204): ``webhook_tenants``
  tenants with one endpoint each, ``webhook_events_per_tenant`` events each
  recorded with ``webhooks.events.emit_many`` in one operator transaction,
  then drained by ``webhooks.delivery.deliver_due`` called as the every-minute
  job calls it (its 50 s budget, again if something were left). The signing
  keys are dropped from the process's cache first, as a job's process has not
  seen them: one KMS ``Decrypt`` per endpoint (moto), as in the cloud. The
  receiver must get every delivery exactly once, each signature verified with
  ``standardwebhooks`` (not our implementation); otherwise the run fails.

No figure asserts a time; the receiver's count and the signatures are checked.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import psycopg

from bench import billing_bench
from bench.billing_bench import _post_ok, onboard_customer
from bench.data import count
from bench.harness import Figure, fresh_stack, sample_ms, summarize

PDF_TARGET = "<= 50"
UPCOMING_TARGET = "<= 100"
# Before every other customer's billing start (the bench's start in 2020, onboarded ones today),
# so the run bills the PDF customer alone.
PDF_PERIOD = "2019-06"
PDF_BILLING_START = "2019-01-01"
# Both metrics beyond the enterprise tier's included units (10,000,000 and 50,000): every line priced.
PDF_USAGE = {"api_calls": 12_345_678, "compliance_scans": 61_234}
PDF_EVENTS_PER_METRIC = 50
FANOUT_EVENT = "invoice.finalized"


def _get(client: Any, path: str, headers: dict[str, str]) -> Any:
    response = client.http.get(path, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}: {response.body[:300]!r}")
    return response


# ---------------------------------------------------------------- the PDF


def billed_invoice(client: Any, operator: dict[str, str]) -> tuple[uuid.UUID, dict[str, str], dict[str, Any]]:
    """A new enterprise customer's finalized invoice for :data:`PDF_PERIOD`: (customer, headers, invoice JSON)."""
    customer_id, headers = onboard_customer(
        client, operator, name="Bench Invoices GmbH", billing_start_date=PDF_BILLING_START
    )
    stamp = f"{PDF_PERIOD}-10T12:00:00+00:00"
    events = [
        {"event_id": uuid.uuid4().hex, "metric": metric, "quantity": total // PDF_EVENTS_PER_METRIC, "timestamp": stamp}
        for metric, total in PDF_USAGE.items()
        for _ in range(PDF_EVENTS_PER_METRIC)
    ]
    _post_ok(client, headers, json.dumps({"events": events}))
    body = json.dumps({"period": PDF_PERIOD, "finalize": True})
    ran = client.http.post("/admin/billing-runs", headers=operator, body=body)
    if ran.status_code != 200:
        raise RuntimeError(f"the billing run answered {ran.status_code}: {ran.body[:300]!r}")
    [summary] = [i for i in json.loads(_get(client, "/invoices", headers).body)["items"] if i["period"] == PDF_PERIOD]
    invoice = json.loads(_get(client, f"/invoices/{summary['id']}", headers).body)
    if invoice["status"] != "finalized":
        raise RuntimeError(f"the invoice is {invoice['status']}, not finalized")
    return customer_id, headers, invoice


def measure_invoice_pdf(client: Any, operator: dict[str, str], n: int) -> Figure:
    """Median of ``n`` ``GET /invoices/{id}/pdf`` of a finalized invoice (every answer a PDF)."""
    from chalicelib.core import db
    from chalicelib.core.settings import get_settings
    from chalicelib.invoices import pdf, repository, service

    customer_id, headers, invoice = billed_invoice(client, operator)
    path = f"/invoices/{invoice['id']}/pdf"
    accept = {**headers, "Accept": "application/pdf"}
    sizes: set[int] = set()

    def call() -> None:
        body = _get(client, path, accept).body
        if not body.startswith(b"%PDF"):
            raise RuntimeError(f"GET {path} did not answer a PDF: {body[:40]!r}")
        sizes.add(len(body))

    warmup = min(10, n)
    stats = summarize(sample_ms(call, n, warmup=warmup))
    invoice_id = uuid.UUID(invoice["id"])
    service_only = summarize(sample_ms(lambda: service.invoice_pdf(customer_id, invoice_id), n, warmup=warmup))
    with db.tenant_transaction(customer_id) as conn:
        row = repository.document(conn, invoice_id)
    if row is None:
        raise RuntimeError(f"invoice {invoice_id} is not visible to its customer")
    document = service.document(row)
    issuer = pdf.Issuer(name=get_settings().platform_name, address=get_settings().platform_address)
    render_only = summarize(sample_ms(lambda: pdf.render(document, issuer), n, warmup=warmup))
    return Figure(
        "invoice_pdf_p50_ms",
        stats["p50_ms"],
        "ms",
        PDF_TARGET,
        {"invoice_lines": len(invoice["lines"]), "samples": n},
        params={
            "path": "GET /invoices/{id}/pdf",
            "accept": "application/pdf",
            "invoice": "finalized by POST /admin/billing-runs; enterprise, both metrics over the included units",
            "in_process": True,
        },
        detail={
            **stats,
            "pdf_bytes": sorted(sizes),
            "total_cents": invoice["total_cents"],
            "discount_cents": invoice["discount_cents"],
            "service_only": service_only,
            "render_only": render_only,
        },
    )


# ---------------------------------------------------------------- the upcoming invoice


def month_batches(n_events: int, start: datetime, now: datetime, batch_size: int = 1000) -> list[str]:
    """``POST /metrics`` bodies whose events are spread over ``[start, now)`` (this month, never the future)."""
    prefix = uuid.uuid4().hex[:8]
    span_s = max(1, int((now - start).total_seconds()) - 1)
    bodies = []
    for first in range(0, n_events, batch_size):
        events = [
            {
                "event_id": f"{prefix}-{i}",
                "metric": "compliance_scans" if i % 10 == 0 else "api_calls",
                "quantity": 1 + i % 5,
                "timestamp": (now - timedelta(seconds=span_s * i // n_events)).isoformat(),
            }
            for i in range(first, min(first + batch_size, n_events))
        ]
        bodies.append(json.dumps({"events": events}))
    return bodies


def measure_upcoming(client: Any, operator: dict[str, str], admin_url: str, n_events: int, n: int) -> Figure:
    """p99 of ``n`` ``GET /invoices/upcoming`` for a customer with ``n_events`` events this month."""
    from chalicelib.core.periods import Period, utc_now
    from chalicelib.invoices import upcoming

    customer_id, headers = onboard_customer(client, operator)
    now = utc_now()
    period = Period.containing(now)
    started = time.perf_counter()
    for body in month_batches(n_events, period.starts_at, now):
        _post_ok(client, headers, body)
    ingest_s = time.perf_counter() - started
    with psycopg.connect(admin_url, autocommit=True) as conn:
        in_month = count(
            conn,
            "SELECT count(*) FROM usage_events WHERE customer_id = %s AND period = %s",
            (customer_id, period.first_day),
        )
        conn.execute("VACUUM ANALYZE usage_events")  # no autovacuum amid the samples
        conn.execute("VACUUM ANALYZE usage_monthly")
    if in_month != n_events:
        raise RuntimeError(f"{in_month} of {n_events} events landed in {period.label}")
    preview = json.loads(_get(client, "/invoices/upcoming", headers).body)
    stats = summarize(sample_ms(lambda: _get(client, "/invoices/upcoming", headers), n))
    service_only = summarize(sample_ms(lambda: upcoming.upcoming_invoice(customer_id), n))
    return Figure(
        "upcoming_invoice_p99_ms",
        stats["p99_ms"],
        "ms",
        UPCOMING_TARGET,
        {"events_in_month": in_month, "samples": n},
        params={
            "path": "GET /invoices/upcoming",
            "period": period.label,
            "ingested": "POST /metrics",
            "in_process": True,
        },
        detail={
            **stats,
            "ingest_s": round(ingest_s, 3),
            "total_cents": preview["total_cents"],
            "forecast_total_cents": preview["forecast"]["total_cents"],
            "service_only": service_only,
        },
    )


# ---------------------------------------------------------------- webhook fan-out


class Sink:
    """A local receiver: ``http.server`` in threads on 127.0.0.1, 204 to every POST, each request kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        lock = threading.Lock()
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="bench-webhook-sink", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def measure_webhook_fanout(client: Any, operator: dict[str, str], tenants: int, per_tenant: int) -> Figure:
    """Deliveries/s of ``tenants`` x 1 endpoint x ``per_tenant`` events, drained as the scheduled job does."""
    import standardwebhooks

    from chalicelib.core import db
    from chalicelib.webhooks import delivery, urls
    from chalicelib.webhooks import events as webhooks
    from chalicelib.webhooks.models import DeliveryReport
    from chalicelib.webhooks.routes import DELIVERY_BUDGET_S

    sink = Sink()
    try:
        secrets: dict[str, str] = {}
        announced: list[webhooks.Event] = []
        for t in range(tenants):
            customer_id, headers = onboard_customer(client, operator)
            body = {"url": f"http://127.0.0.1:{sink.port}/t{t}", "events": [FANOUT_EVENT], "description": "bench"}
            created = client.http.post("/webhook-endpoints", headers=headers, body=json.dumps(body))
            if created.status_code != 201:
                raise RuntimeError(f"POST /webhook-endpoints answered {created.status_code}: {created.body[:300]!r}")
            endpoint = json.loads(created.body)
            secrets[f"/t{t}"] = endpoint["secret"]
            delivery.forget_key(uuid.UUID(endpoint["id"]))  # the job's process has not seen the key
            announced += [(customer_id, FANOUT_EVENT, _invoice_data(i)) for i in range(per_tenant)]
        expected = len(announced)
        started = time.perf_counter()
        with db.operator_transaction() as conn:
            emitted = webhooks.emit_many(conn, announced)
        emit_s = time.perf_counter() - started
        if len(emitted) != expected:
            raise RuntimeError(f"{len(emitted)} of {expected} events were stored with a delivery")

        # Where the drain's time goes: the HTTP attempts, and the sender's transactions (commit included).
        http_ms: list[float] = []
        transaction_ms: list[float] = []
        post, transaction = urls.post, db.operator_transaction

        def timed_post(*args: Any, **kwargs: Any) -> urls.Answer:
            t0 = time.perf_counter()
            try:
                return post(*args, **kwargs)
            finally:
                http_ms.append((time.perf_counter() - t0) * 1000)

        @contextlib.contextmanager
        def timed_transaction(**kwargs: Any) -> Iterator[Any]:
            t0 = time.perf_counter()
            try:
                with transaction(**kwargs) as conn:
                    yield conn
            finally:
                transaction_ms.append((time.perf_counter() - t0) * 1000)

        reports: list[DeliveryReport] = []
        with (
            mock.patch.object(urls, "post", timed_post),
            mock.patch.object(db, "operator_transaction", timed_transaction),
        ):
            started = time.perf_counter()
            while len(sink.requests) < expected and len(reports) < 5:
                reports.append(delivery.deliver_due(time_budget_s=DELIVERY_BUDGET_S))
                if reports[-1].succeeded + reports[-1].failed == 0:
                    break
            wall_s = time.perf_counter() - started
    finally:
        sink.close()
    received = list(sink.requests)
    ids = {headers["webhook-id"] for _, headers, _ in received}
    verified = sum(
        _verified(standardwebhooks.Webhook(secrets[path]), body, headers) for path, headers, body in received
    )
    if len(received) != expected or ids != {str(event_id) for event_id in emitted} or verified != expected:
        raise RuntimeError(
            f"expected {expected} deliveries: received {len(received)}, {len(ids)} distinct, {verified} verified"
        )
    return Figure(
        "webhook_fanout_per_s",
        round(len(received) / wall_s, 1),
        "deliveries/s",
        "-",
        {"tenants": tenants, "endpoints": tenants, "deliveries": expected},
        params={
            "event": FANOUT_EVENT,
            "emitted": "webhooks.events.emit_many, one operator transaction",
            "sender": f"webhooks.delivery.deliver_due(time_budget_s={DELIVERY_BUDGET_S}), as the every-minute job",
            "receiver": "http.server (threads) on 127.0.0.1, 204",
            "kms": "key cache cleared: one Decrypt per endpoint (moto)",
            "in_process": True,
        },
        detail={
            "wall_s": round(wall_s, 3),
            "received": len(received),
            "distinct_webhook_ids": len(ids),
            "signatures_verified": verified,
            "job_runs": len(reports),
            "succeeded": sum(r.succeeded for r in reports),
            "failed": sum(r.failed for r in reports),
            "emit_s": round(emit_s, 3),
            "per_delivery_ms": round(wall_s * 1000 / expected, 3),
            "http_attempt": summarize(http_ms),
            "http_share": round(sum(http_ms) / 1000 / wall_s, 3),
            "transactions": len(transaction_ms),
            "transaction": summarize(transaction_ms),
            "transaction_share": round(sum(transaction_ms) / 1000 / wall_s, 3),
        },
    )


def _verified(webhook: Any, body: bytes, headers: dict[str, str]) -> bool:
    """Whether ``standardwebhooks`` accepts the signature, and the body is the event the ``webhook-id`` names."""
    from standardwebhooks.webhooks import WebhookVerificationError

    try:
        event = webhook.verify(body, headers)
    except WebhookVerificationError:
        return False
    return bool(event["id"] == headers["webhook-id"] and event["type"] == FANOUT_EVENT)


def _invoice_data(i: int) -> dict[str, Any]:
    """An ``invoice.finalized`` event's data, shaped like the billing run's."""
    amounts = {"subtotal_cents": 2_000_000, "discount_cents": 100_000, "tax_cents": 152_000, "total_cents": 2_052_000}
    due_at = datetime(2026, 12, 1, tzinfo=UTC)
    return {
        "id": uuid.uuid4(),
        "number": f"BENCH-WH-{i:06d}",
        "period": "2026-10",
        "status": "finalized",
        **amounts,
        "due_at": due_at,
    }


# ---------------------------------------------------------------- the section


def measure_invoices(client: Any, admin_url: str, operator: dict[str, str], sizes: dict[str, Any]) -> list[Figure]:
    """The three figures (module docstring), each for customers of its own."""
    return [
        measure_invoice_pdf(client, operator, sizes["pdf_samples"]),
        measure_upcoming(client, operator, admin_url, sizes["upcoming_events"], sizes["upcoming_samples"]),
        measure_webhook_fanout(client, operator, sizes["webhook_tenants"], sizes["webhook_events_per_tenant"]),
    ]


def run_alone(sizes: dict[str, Any]) -> list[Figure]:
    """``python -m bench --only invoices``: this module's figures on a fresh stack of their own."""

    with fresh_stack("invoices", sizes) as env:
        from app import app
        from chalice.test import Client

        with Client(app) as client:
            operator = billing_bench.operator_headers(client)
            return measure_invoices(client, env["ADMIN_DATABASE_URL"], operator, sizes)
