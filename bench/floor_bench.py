"""Two figures as ratios to this machine's floor, each floor measured interleaved with its figure (issue 16).

* ``authorize_vs_floor_ratio`` — ``authorize()`` (what ``authorize_p99_ms``
  measures: the authentication guard's work for a request carrying a JWT),
  p50, divided by the floor's p50: one HS256 verification with PyJWT and one
  ``SELECT 1`` round trip on a connection of the same pool. Sample by sample,
  in rotating order, the same loop also times the pieces of ``authorize()``
  (``detail.parts``): ``tokens.verify``, the pool's checkout (which runs
  ``check_connection``, one empty query), and the guard's statement alone
  (``auth_key_session_state`` for the bench's key session, migration 0045). So a miss comes with its profile.
* ``ingest_vs_copy_ratio`` — ``POST /metrics`` events/s, measured as
  ``ingest_events_per_s`` is (``bench/alerts_bench.py``: batches of 1000
  through the in-process client, events over the sum of the batches' times,
  every batch accepted in full), divided by PostgreSQL ``COPY`` of the same
  rows (a fresh customer's, same month, same batch size, one transaction per
  batch, committed) into the same table through its parent name, so with
  the same indexes, constraints, foreign keys and partition. ``COPY`` writes
  every per-event table the product writes: ``usage_events`` and, when the
  schema has one, the idempotency key table (any other table with a unique
  key on ``(customer_id, event_id)``, found in the catalog so the figure
  stays like for like before and after partitioning); ``detail.copy_tables``
  names them. What ``COPY`` does not do is the product's own work: the
  monthly totals, the alert probe, the checks, the audit event, HTTP, the
  token and the rate limiter. A third customer's batches go through the
  ingestion statement alone (``ingest_usage_events`` in a tenant
  transaction, no HTTP) in the same rotation: ``detail.statement_events_per_s``
  splits the gap between PostgreSQL and Python.

``COPY FROM`` is refused on a table with row-level security for any role
that does not bypass it, so the ``COPY`` runs as the stack's superuser.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import psycopg
from psycopg import sql

from bench.billing_bench import JSON, _post_ok, make_batches, onboard_customer
from bench.data import create_customers
from bench.harness import Figure, fresh_stack, summarize

AUTHORIZE_TARGET = "<= 1.5"
INGEST_TARGET = ">= 0.5"

# Tables holding one row per accepted event, besides usage_events: a unique key on exactly
# (customer_id, event_id), e.g. the idempotency keys a partitioned usage_events needs.
KEY_TABLES = """
SELECT c.relname
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
 WHERE i.indisunique AND c.relname <> 'usage_events' AND NOT c.relispartition
   AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
          FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = ARRAY['customer_id', 'event_id']
 ORDER BY 1
"""
# Columns COPY must fill: NOT NULL, no default, not generated (the rest the table fills itself).
REQUIRED_COLUMNS = """
SELECT a.attname::text
  FROM pg_attribute a
 WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
   AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
 ORDER BY a.attnum
"""
EVENT_COLUMNS = ("customer_id", "event_id", "metric_code", "quantity", "occurred_at", "period")


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


# ---------------------------------------------------------------- authorize vs floor


def measure_authorize_vs_floor(token: str, n: int, warmup: int = 100) -> Figure:
    """``authorize()`` against one HS256 check + one ``SELECT 1``, and authorize's parts, in one rotating loop."""
    from chalicelib.auth import authorization, clock, repository, signing, tokens
    from chalicelib.core import db
    from chalicelib.core.settings import get_settings

    settings = get_settings()
    header = f"Bearer {token}"
    key = signing.keyring().find(jwt.get_unverified_header(token)["kid"])
    if key is None:
        raise RuntimeError("the token's signing key is not in the keyring")
    pool = db.get_pool()
    claims = tokens.verify(token, signing.keyring(), issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    state_query = repository.request_state_statement(role=claims.role, key_id=claims.key_id, user_id=claims.user_id)
    if state_query is None:
        raise RuntimeError("the token names no kind of session")
    credential = claims.user_id if claims.key_id is None else claims.key_id
    held = pool.getconn()  # the floor's connection: from the same pool, checked out once, outside the timing
    try:

        def pyjwt() -> None:
            jwt.decode(
                token, key.secret, algorithms=["HS256"], audience=settings.jwt_audience, issuer=settings.jwt_issuer
            )

        def floor() -> None:
            pyjwt()
            held.execute("SELECT 1").fetchone()

        def checkout() -> None:
            with pool.connection():
                pass

        def statement() -> None:
            held.execute(state_query, (claims.jti, claims.subject, credential, repository._at(clock.now()))).fetchone()

        arms: dict[str, Callable[[], Any]] = {
            "authorize": lambda: authorization.authorize(header),
            "floor": floor,
            "select_1": lambda: held.execute("SELECT 1").fetchone(),
            "pyjwt_decode": pyjwt,
            "tokens_verify": lambda: tokens.verify(
                token, signing.keyring(), issuer=settings.jwt_issuer, audience=settings.jwt_audience
            ),
            "pool_checkout": checkout,
            "request_state_statement": statement,
        }
        samples = _rotate(arms, n, warmup)
    finally:
        pool.putconn(held)
    stats = {name: summarize(values) for name, values in samples.items()}
    ratio = stats["authorize"]["p50_ms"] / stats["floor"]["p50_ms"]
    return Figure(
        "authorize_vs_floor_ratio",
        round(ratio, 3),
        "x",
        AUTHORIZE_TARGET,
        {"samples": n},
        params={
            "numerator": "authorization.authorize(bearer JWT), p50 (as authorize_p99_ms)",
            "floor": "jwt.decode HS256 (PyJWT) + SELECT 1 on a connection of the app's pool, p50",
            "interleaved": "one sample of each arm per round, the order rotated every round",
            "in_process": True,
        },
        detail={
            "authorize_p50_ms": stats["authorize"]["p50_ms"],
            "floor_p50_ms": stats["floor"]["p50_ms"],
            "p99_ratio": round(stats["authorize"]["p99_ms"] / stats["floor"]["p99_ms"], 3),
            "parts": stats,
        },
    )


def _rotate(arms: dict[str, Callable[[], Any]], n: int, warmup: int) -> dict[str, list[float]]:
    """``n`` samples of every arm, one of each per round, starting one arm later each round."""
    names = list(arms)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + n):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = _timed(arms[name])
            if i >= warmup:
                samples[name].append(elapsed)
    return samples


# ---------------------------------------------------------------- ingest vs COPY


def copy_tables(admin: psycopg.Connection) -> dict[str, list[str]]:
    """Each per-event table the product writes (usage_events first) and the columns COPY fills in it."""
    names = ["usage_events"] + [row[0] for row in admin.execute(KEY_TABLES)]
    tables: dict[str, list[str]] = {}
    for name in names:
        required = [row[0] for row in admin.execute(REQUIRED_COLUMNS, (name,))]
        columns = list(EVENT_COLUMNS) if name == "usage_events" else required
        missing = [column for column in required if column not in columns]
        unknown = [column for column in columns if column not in EVENT_COLUMNS]
        if missing or unknown:
            raise RuntimeError(f"cannot COPY into {name}: columns {missing or unknown} are not an event's")
        tables[name] = columns
    return tables


def copy_buffers(customer_id: uuid.UUID, body: str, tables: dict[str, list[str]]) -> dict[str, bytes]:
    """The COPY text of one ``POST /metrics`` body's events, per table (client-side work, untimed)."""
    rows = []
    for event in json.loads(body)["events"]:
        moment = datetime.fromisoformat(event["timestamp"]).astimezone(UTC)
        values = {
            "customer_id": str(customer_id),
            "event_id": event["event_id"],
            "metric_code": event["metric"],
            "quantity": str(event["quantity"]),
            "occurred_at": moment.isoformat(),
            "period": moment.strftime("%Y-%m-01"),
        }
        rows.append(values)
    return {
        table: "".join("\t".join(row[c] for c in columns) + "\n" for row in rows).encode()
        for table, columns in tables.items()
    }


def _copy_batch(conn: psycopg.Connection, tables: dict[str, list[str]], buffers: dict[str, bytes]) -> None:
    with conn.transaction(), conn.cursor() as cursor:
        for table, columns in tables.items():
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with cursor.copy(statement) as copy:
                copy.write(buffers[table])


def _statement_batch(customer_id: uuid.UUID, body: str) -> None:
    """The ingestion statement alone, with the JSON the repository sends, in a tenant transaction."""
    from chalicelib.core import db
    from chalicelib.metering.repository import INGEST_BATCH

    events = json.dumps(
        [[e["event_id"], e["metric"], str(e["quantity"]), e["timestamp"]] for e in json.loads(body)["events"]],
        separators=(",", ":"),
    )
    with db.tenant_transaction(customer_id, actor="system:bench") as conn:
        row = conn.execute(INGEST_BATCH, {"events": events}).fetchone()
    if row is None or row["error_index"] is not None:
        raise RuntimeError(f"ingest_usage_events refused a batch: {row}")


def measure_ingest_vs_copy(
    client: Any, operator: dict[str, str], admin_url: str, n_events: int, batch_size: int = 1000, warmup: int = 3
) -> Figure:
    """``POST /metrics``, the ingestion statement alone and ``COPY``: three fresh customers, batches rotated."""
    _, headers = onboard_customer(client, operator)
    request_headers = {**headers, **JSON}
    statement_customer, copy_customer = create_customers(admin_url, 2, seed=f"floor-{uuid.uuid4().hex[:6]}")
    now = datetime.now(UTC)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        tables = copy_tables(admin)

        def batches(prefix: str, n: int) -> list[str]:
            return make_batches(n, batch_size, prefix=f"{prefix}-{uuid.uuid4().hex[:6]}", now=now)

        post, statement, copy = (batches(name, n_events) for name in ("post", "statement", "copy"))
        copies = [copy_buffers(copy_customer, body, tables) for body in copy]
        for body in batches("warm", warmup * batch_size):
            _post_ok(client, request_headers, body)
        for body in batches("warm", warmup * batch_size):
            _statement_batch(statement_customer, body)
        for body in batches("warm", warmup * batch_size):
            _copy_batch(admin, tables, copy_buffers(copy_customer, body, tables))
        latencies: dict[str, list[float]] = {"post": [], "statement": [], "copy": []}
        for index in range(len(post)):
            arms: dict[str, Callable[[], Any]] = {
                "post": functools.partial(_post_ok, client, request_headers, post[index]),
                "statement": functools.partial(_statement_batch, statement_customer, statement[index]),
                "copy": functools.partial(_copy_batch, admin, tables, copies[index]),
            }
            names = list(arms)
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                latencies[name].append(_timed(arms[name]))
        rows = admin.execute(
            "SELECT count(*) FROM usage_events WHERE customer_id = %s AND period = %s",
            (copy_customer, now.strftime("%Y-%m-01")),
        ).fetchone()
    rates = {name: n_events * 1000 / sum(values) for name, values in latencies.items()}
    return Figure(
        "ingest_vs_copy_ratio",
        round(rates["post"] / rates["copy"], 3),
        "x",
        INGEST_TARGET,
        {"events": n_events, "batch_size": batch_size, "batches": len(post)},
        params={
            "numerator": "POST /metrics events/s, in-process, as ingest_events_per_s",
            "floor": "COPY of the same rows (a fresh customer, same month) through the parent table, "
            "one committed transaction per batch, as the stack's superuser",
            "copy_tables": dict(tables),
            "interleaved": "POST, statement alone and COPY batches rotated batch by batch",
            "in_process": True,
        },
        detail={
            "ingest_events_per_s": round(rates["post"]),
            "statement_events_per_s": round(rates["statement"]),
            "copy_events_per_s": round(rates["copy"]),
            "statement_vs_copy_ratio": round(rates["statement"] / rates["copy"], 3),
            "copy_rows_in_month": rows[0] if rows else None,
            "batch_latency": {name: summarize(values) for name, values in latencies.items()},
        },
    )


def measure_floors(client: Any, admin_url: str, operator: dict[str, str], sizes: dict[str, Any]) -> list[Figure]:
    """Both ratios, for a new enterprise customer (its session) and fresh customers' rows."""
    _, headers = onboard_customer(client, operator)
    token = headers["Authorization"].removeprefix("Bearer ")
    return [
        measure_authorize_vs_floor(token, sizes["samples"]),
        measure_ingest_vs_copy(client, operator, admin_url, sizes["ingest"]),
    ]


def run_alone(sizes: dict[str, Any]) -> list[Figure]:
    """``python -m bench --only floors``: both ratios on a fresh stack of their own."""
    from bench.billing_bench import operator_headers

    with fresh_stack("floors", sizes) as env:
        from app import app
        from chalice.test import Client

        with Client(app) as client:
            operator = operator_headers(client)
            with psycopg.connect(env["ADMIN_DATABASE_URL"], autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")  # as the full run does: no autovacuum amid the samples
            return measure_floors(client, env["ADMIN_DATABASE_URL"], operator, sizes)
