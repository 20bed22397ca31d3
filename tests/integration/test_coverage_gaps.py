"""Paths the route tests cannot reach but production relies on (found by the coverage report).

* The daily audit-retention job as Lambda runs it: it deletes only events past
  the 7-year retention, records ``audit.purged`` on the platform chain when it
  removed any, and does nothing (no event) when nothing is due.
* The customers repository's translation of constraint violations into 409/422:
  the request models refuse most bad values first, so only a race or a catalog
  change reaches them; they must never surface as a 500.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from chalicelib.core import db, errors
from chalicelib.customers import repository as customers
from tests.audit_support import age_newest_event

PLATFORM_CHAIN = "00000000-0000-0000-0000-000000000000"


def _purged_events(admin_conn) -> list[dict]:
    return admin_conn.execute(
        "SELECT detail FROM audit_events WHERE chain_key = %s AND action = 'audit.purged' ORDER BY chain_seq",
        (PLATFORM_CHAIN,),
    ).fetchall()


def test_the_retention_job_purges_only_expired_events_and_says_so(chalice_app, make_customer, admin_conn, admin_url):
    from chalice.test import Client

    from chalicelib.audit.routes import RETENTION_JOB

    customer_id = make_customer()
    with db.tenant_transaction(customer_id, actor="system:test") as conn:
        for n in range(3):
            conn.execute(
                "INSERT INTO audit_events (customer_id, actor, action, target_type) VALUES (%s, '', %s, 'test')",
                (customer_id, f"test.event_{n}"),
            )
    age_newest_event(admin_url, customer_id, years=8)
    before = len(_purged_events(admin_conn))
    with Client(chalice_app) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        first = client.lambda_.invoke(RETENTION_JOB, event).payload
        second = client.lambda_.invoke(RETENTION_JOB, event).payload
    assert first["purged"] >= 1
    assert second == {"purged": 0}
    left = admin_conn.execute(
        "SELECT action FROM audit_events WHERE customer_id = %s ORDER BY chain_seq", (customer_id,)
    ).fetchall()
    assert [row["action"] for row in left] == ["test.event_0", "test.event_1"]  # the aged one only
    purged = _purged_events(admin_conn)
    assert len(purged) == before + 1  # the second, empty run records nothing
    assert purged[-1]["detail"] == {"purged": first["purged"], "retention_years": 7}
    chain = admin_conn.execute("SELECT * FROM verify_audit_chain(NULL)").fetchall()
    assert chain == []


def _insert(conn, **overrides):
    fields = {
        "name": "Coverage Co",
        "email": f"{uuid.uuid4().hex}@example.test",
        "tier": "starter",
        "tax_rate": None,
        "billing_start_date": None,
    } | overrides
    return customers.insert(conn, **fields)


def test_constraint_violations_become_409_and_422_never_500(stack):
    with db.operator_transaction() as conn:
        taken = _insert(conn)
        with pytest.raises(errors.Conflict):
            _insert(conn, email=taken["email"])
        with pytest.raises(errors.Unprocessable, match="Unknown tier"):
            _insert(conn, tier="no_such_tier")
        with pytest.raises(errors.Unprocessable, match="out of range"):
            _insert(conn, tax_rate=Decimal("-0.5"))
        other = _insert(conn)
        with pytest.raises(errors.Conflict):
            customers.update(conn, other["id"], tier=None, status=None, tax_rate=None, email=taken["email"])
        with pytest.raises(errors.Unprocessable, match="Unknown tier"):
            customers.update(conn, other["id"], tier="no_such_tier", status=None, tax_rate=None, email=None)
        # The unit of work is still usable: each failure was confined to its savepoint.
        assert customers.get(conn, other["id"])["email"] == other["email"]
