"""Reading the tenant's own audit trail (GET /audit-events' query), on the real PostgreSQL."""

import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from chalicelib.audit import service
from chalicelib.audit.models import AuditEventQuery
from chalicelib.audit.recorder import record
from chalicelib.core import db
from chalicelib.core.errors import BadRequest
from chalicelib.core.pagination import encode_keyset


def _record(customer_id, n, prefix="thing"):
    for i in range(n):
        with db.tenant_transaction(customer_id) as conn:
            record(
                conn,
                customer_id=customer_id,
                action=f"{prefix}.done",
                target_type="thing",
                target_id=i,
                detail={"i": i},
                actor="system",
            )


def test_events_page_newest_first_and_every_event_once(make_customer):
    customer = make_customer()
    _record(customer, 5)
    seen, cursor = [], None
    while True:
        page = service.list_events(customer, AuditEventQuery(limit=2, cursor=cursor))
        seen += [(e.target_id, e.detail["i"]) for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [(str(i), i) for i in reversed(range(5))]


def test_an_event_has_the_contract_fields(make_customer):
    customer = make_customer()
    _record(customer, 1)
    event = service.list_events(customer, AuditEventQuery()).items[0].model_dump(mode="json")
    assert {"id", "occurred_at", "actor", "action", "target_type", "target_id", "detail"} <= set(event)
    assert event["action"] == "thing.done" and event["actor"] == "system" and event["occurred_at"].endswith("Z")
    assert "hash" not in event and "prev_hash" not in event and "chain_seq" not in event


def test_only_the_tenants_own_trail_is_visible(make_customer, admin_url):
    mine, theirs = make_customer(), make_customer()
    _record(mine, 1, prefix="mine")
    _record(theirs, 3, prefix="theirs")
    with psycopg.connect(admin_url, autocommit=True) as conn:  # a platform event: no customer
        conn.execute(
            "INSERT INTO audit_events (customer_id, actor, action, target_type) "
            "VALUES (NULL, 'system', 'platform.thing', 'platform')"
        )
    events = service.list_events(mine, AuditEventQuery(limit=100)).items
    assert [e.action for e in events] == ["mine.done"]


def test_a_malformed_cursor_is_a_bad_request(make_customer):
    with pytest.raises(BadRequest):
        service.list_events(make_customer(), AuditEventQuery(cursor="%%%"))


def test_a_cursor_past_the_end_is_an_empty_page(make_customer):
    customer = make_customer()
    _record(customer, 1)
    cursor = encode_keyset(datetime(2000, 1, 1, tzinfo=UTC), uuid.uuid4())
    page = service.list_events(customer, AuditEventQuery(cursor=cursor))
    assert page.items == [] and page.next_cursor is None
