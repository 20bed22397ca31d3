"""SQL for ``usage_alerts`` (migration 0042), on the caller's tenant transaction: row-level security scopes it.

The firing itself is claimed inside ``ingest_usage_events`` (the metering
area's one statement per batch), not here: this module holds what the alert
routes and the firing's follow-up need.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from psycopg import errors as pg_errors

from chalicelib.core import errors
from chalicelib.core.db import Connection, single_row
from chalicelib.core.pagination import Keyset

COLUMNS = "id, customer_id, metric_code, threshold, created_at, last_fired_period"
INSERT = f"""
INSERT INTO usage_alerts (customer_id, metric_code, threshold)
VALUES (%(customer_id)s, %(metric)s, %(threshold)s)
RETURNING {COLUMNS}
"""
GET = f"SELECT {COLUMNS} FROM usage_alerts WHERE id = %(id)s"
DELETE = f"DELETE FROM usage_alerts WHERE id = %(id)s RETURNING {COLUMNS}"
COUNT = "SELECT count(*) AS n FROM usage_alerts"
# Newest first: a keyset page (core.pagination); a tenant has at most MAX_ALERTS_PER_TENANT.
LIST_PAGE = f"""
SELECT {COLUMNS}
  FROM usage_alerts
 WHERE %(after_created_at)s::timestamptz IS NULL
    OR (created_at, id) < (%(after_created_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT %(limit)s
"""
METRIC_EXISTS = "SELECT 1 FROM metrics WHERE code = %(metric)s"
# Serializes creations of one tenant's alerts until the transaction ends, so a count then an
# insert cannot interleave (an advisory lock: the app role may not lock the customer row).
LOCK_TENANT_ALERTS = "SELECT pg_advisory_xact_lock(hashtextextended('usage_alerts:' || %(customer_id)s::text, 0))"
# Where the alert e-mail goes: the customer's contact address (row-level security: its own row).
CONTACT = "SELECT name, email FROM customers WHERE id = %(id)s"


def insert(conn: Connection, *, customer_id: uuid.UUID, metric: str, threshold: Decimal) -> dict[str, Any]:
    """A new alert; ``Conflict`` when the tenant has one for the same metric and threshold."""
    params = {"customer_id": customer_id, "metric": metric, "threshold": threshold}
    try:
        return single_row(conn.execute(INSERT, params))  # INSERT ... RETURNING: one row, or it raised
    except pg_errors.UniqueViolation as exc:
        raise errors.Conflict(f"An alert for {metric} at this threshold exists already") from exc


def get(conn: Connection, alert_id: uuid.UUID) -> dict[str, Any] | None:
    return conn.execute(GET, {"id": alert_id}).fetchone()


def delete(conn: Connection, alert_id: uuid.UUID) -> dict[str, Any] | None:
    """Delete the tenant's alert; its row as it was, or ``None`` when it is not there (another tenant's too)."""
    return conn.execute(DELETE, {"id": alert_id}).fetchone()


def count(conn: Connection) -> int:
    alerts: int = single_row(conn.execute(COUNT))["n"]  # count(*): one row
    return alerts


def list_page(conn: Connection, *, limit: int, after: Keyset | None) -> list[dict[str, Any]]:
    """Up to ``limit`` of the tenant's alerts older than ``after`` (created_at, id), newest first."""
    after_created_at, after_id = after or (None, None)
    return conn.execute(
        LIST_PAGE, {"after_created_at": after_created_at, "after_id": after_id, "limit": limit}
    ).fetchall()


def metric_exists(conn: Connection, metric: str) -> bool:
    return conn.execute(METRIC_EXISTS, {"metric": metric}).fetchone() is not None


def lock_tenant_alerts(conn: Connection, customer_id: uuid.UUID) -> None:
    conn.execute(LOCK_TENANT_ALERTS, {"customer_id": customer_id})


def contact(conn: Connection, customer_id: uuid.UUID) -> dict[str, Any] | None:
    """The customer's ``name`` and contact ``email``."""
    return conn.execute(CONTACT, {"id": customer_id}).fetchone()
