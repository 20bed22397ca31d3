"""The floors the bench divides by work against the real schema (bench/floor_bench.py, bench/cost_model.py).

``ingest_vs_copy_ratio`` compares ingestion with ``COPY`` of the same rows
into every per-event table the product writes; these tests keep that
``COPY`` valid as the schema changes (a partitioned ``usage_events``, an
idempotency key table) and check it lands what ingestion would. No timings.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from bench import cost_model, floor_bench
from bench.billing_bench import make_batches


def test_copy_writes_the_events_into_every_per_event_table(admin_url, make_customer) -> None:
    customer = make_customer("enterprise")
    [body] = make_batches(25, 25)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        tables = floor_bench.copy_tables(conn)
        assert next(iter(tables)) == "usage_events"
        assert tables["usage_events"] == list(floor_bench.EVENT_COLUMNS)
        floor_bench._copy_batch(conn, tables, floor_bench.copy_buffers(customer, body, tables))
        for table in tables:
            query = sql.SQL("SELECT count(*) FROM {} WHERE customer_id = %s").format(sql.Identifier(table))
            row = conn.execute(query, (customer,)).fetchone()
            assert row is not None and row[0] == 25, table


def test_copy_rows_match_what_ingestion_stores(admin_url, make_customer) -> None:
    customer = make_customer("enterprise")
    [body] = make_batches(3, 3)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        tables = floor_bench.copy_tables(conn)
        floor_bench._copy_batch(conn, tables, floor_bench.copy_buffers(customer, body, tables))
        rows = conn.execute(
            "SELECT metric_code, quantity, period = date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date"
            " FROM usage_events WHERE customer_id = %s ORDER BY event_id",
            (customer,),
        ).fetchall()
    assert [(metric, int(quantity), same_month) for metric, quantity, same_month in rows] == [
        ("compliance_scans", 1, True),
        ("api_calls", 2, True),
        ("api_calls", 3, True),
    ]


def test_storage_per_event_counts_the_usage_table_and_its_indexes(admin_url, make_customer) -> None:
    customer = make_customer("enterprise")
    [body] = make_batches(10, 10)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        tables = floor_bench.copy_tables(conn)
        floor_bench._copy_batch(conn, tables, floor_bench.copy_buffers(customer, body, tables))
    figure = cost_model.measure_storage(admin_url)
    assert figure.name == "usage_bytes_per_event"
    assert figure.data_size["events"] >= 10
    assert set(figure.detail["bytes_by_table"]) >= set(tables)
    assert figure.value > 0
