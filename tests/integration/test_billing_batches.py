"""The billing run a chunk at a time (issue 16): streamed usage, per-chunk invoices, one chunk in flight.

The run reads its one aggregation through a server-side cursor, a chunk of
customers at a time, reads each chunk's existing invoices, and writes chunk
N on a thread of its own while it prices chunk N+1. These tests hold it to
what the whole-period version did: every customer once, in the same order,
the same existing invoices, and no chunk written after a failed one.
"""

from __future__ import annotations

import functools

import pytest

from chalicelib.billing import repository
from chalicelib.billing import service as billing
from chalicelib.core import db
from chalicelib.core.periods import Period
from tests.billing_support import EARLY_START, after, fresh_month_1970, ingest, invoices_of, lines_of


@pytest.fixture
def customers(make_customer):
    def create(n: int, period) -> list:
        ids = []
        for index in range(n):
            cid = make_customer("starter" if index % 2 else "growth", billing_start_date=EARLY_START)
            ingest(cid, period, api_calls=100_000 + 1_000 * index, compliance_scans=500 + index)
            ids.append(cid)
        return ids

    return create


@functools.cache
def _streamed_period() -> Period:
    """One private month for every batch size below: each compares the month's whole usage with its batches."""
    return fresh_month_1970()


@pytest.mark.parametrize("batch_size", [1, 2, 3, 1000])
def test_usage_batches_give_every_customer_once_in_the_runs_order(customers, batch_size):
    period = _streamed_period()
    ours = customers(5, period)
    with db.operator_transaction() as conn:
        whole = repository.usage_by_customer(conn, period.first_day, period.last_day)
    with db.operator_transaction() as conn:
        batches = list(repository.usage_batches(conn, period.first_day, period.last_day, batch_size))
    assert all(len(batch) == batch_size for batch in batches[:-1]) and 0 < len(batches[-1]) <= batch_size
    streamed = [customer for batch in batches for customer in batch]
    assert streamed == whole  # same customers, usage and prices, in the same order
    by_id = {customer.customer_id: customer for customer in streamed}
    assert set(ours) <= set(by_id)
    assert by_id[ours[3]].usage == {"api_calls": 103_000, "compliance_scans": 503}


def test_existing_invoices_are_the_chunks_own_with_the_lines_of_drafts_only(customers, admin_conn):
    period = fresh_month_1970()
    growth, starter, other = customers(3, period)  # the starter customer uses more than its tier includes
    billing.run(period, finalize=False, now=after(period))
    with db.operator_transaction() as conn:
        drafts = repository.existing_invoices(conn, period.first_day, [starter, other])
    assert set(drafts) == {starter, other}
    [invoice] = invoices_of(admin_conn, period, [starter])
    assert drafts[starter].id == invoice["id"] and drafts[starter].status == "draft"
    stored = [(line["description"], line["amount"]) for line in lines_of(admin_conn, invoice["id"])]
    assert [(line.description, line.amount) for line in drafts[starter].lines] == stored and len(stored) == 3

    billing.run(period, finalize=True, now=after(period))
    with db.operator_transaction() as conn:
        frozen = repository.existing_invoices(conn, period.first_day, [starter, growth])
    assert set(frozen) == {starter, growth}
    assert {invoice.status for invoice in frozen.values()} == {"finalized"}
    assert all(invoice.lines == () for invoice in frozen.values())  # finalized ones are never compared


def test_no_chunk_is_written_after_a_failed_one(customers, admin_conn, monkeypatch):
    monkeypatch.setattr(billing, "CHUNK_SIZE", 2)
    period = fresh_month_1970()
    customers(5, period)
    real = repository.insert_invoices
    calls = []

    def second_chunk_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the second chunk fails")
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, "insert_invoices", second_chunk_fails)
    with pytest.raises(RuntimeError, match="the second chunk fails"):
        billing.run(period, finalize=False, now=after(period))
    assert len(calls) == 2  # the chunks after it were priced, perhaps, but never written
    assert len(invoices_of(admin_conn, period)) == 2  # the first chunk, whole
    [row] = admin_conn.execute("SELECT status FROM billing_runs WHERE period = %s", (period.first_day,)).fetchall()
    assert row["status"] == "failed"

    monkeypatch.setattr(repository, "insert_invoices", real)
    result = billing.run(period, finalize=False, now=after(period))  # the next run completes the period
    assert result.invoices_existing == 2 and result.invoices_created == len(invoices_of(admin_conn, period)) - 2
