"""``usage_events``' monthly partitions: created ahead, detached past the retention (migration 0043).

Both halves are SQL functions owned by the table's owner (``SECURITY DEFINER``,
search path pinned); the jobs here call them as the operator role, which may
execute them and nothing more: the runtime never owns a table.

* :func:`ensure_ahead` creates the current month's partition and the next
  :data:`MONTHS_AHEAD` ones if missing. The billing daily job and the
  usage-partitions job both call it (one missed day changes nothing), and so
  does the local stack when it starts. Ingestion creates a missing month itself
  (late events, a job that did not run), so this only keeps DDL off the hot path.
* :func:`detach_expired` detaches every month older than the current one minus
  ``USAGE_RETENTION_MONTHS`` (default 24), renames it ``archived_usage_events_YYYY_MM``
  and lists it in ``usage_event_archives``; no partition is created below that
  month again, so an event dated there is refused (422). It does not export or
  drop the archived tables: in the cloud that is the runbook in docs/BILLING.md
  (``aws_s3.query_export_to_s3``, then ``DROP TABLE``). The idempotency keys of
  archived months stay: a repeated ``event_id`` is a duplicate however old.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.audit import recorder
from chalicelib.core import db
from chalicelib.core.db import Connection, single_row
from chalicelib.core.settings import get_settings

MONTHS_AHEAD = 3
JOB_ACTOR = "system:usage_partitions"

ENSURE = "SELECT ensure_usage_partitions(%(months_ahead)s) AS created"
DETACH = "SELECT period, table_name FROM detach_expired_usage_partitions(%(keep_months)s)"


@dataclass(frozen=True, slots=True)
class PartitionReport:
    created: int
    # The months detached, as YYYY-MM, oldest first.
    detached: tuple[str, ...]


def ensure_partitions(conn: Connection, months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the missing partitions of this month and ``months_ahead`` after it; how many were created."""
    created: int = single_row(conn.execute(ENSURE, {"months_ahead": months_ahead}))["created"]
    return created


def ensure_ahead(months_ahead: int = MONTHS_AHEAD) -> int:
    """:func:`ensure_partitions` in its own operator transaction (the daily jobs)."""
    with db.operator_transaction(actor=JOB_ACTOR) as conn:
        return ensure_partitions(conn, months_ahead)


def detach_expired(keep_months: int | None = None) -> tuple[str, ...]:
    """Detach the months older than the current one minus ``keep_months``; the months detached.

    Audited on the platform chain (``usage.partitions_detached``) in the same
    transaction when any was. ``keep_months`` defaults to the setting and is
    at least 3 (the database refuses less).
    """
    keep = get_settings().usage_retention_months if keep_months is None else keep_months
    with db.operator_transaction(actor=JOB_ACTOR) as conn:
        rows = conn.execute(DETACH, {"keep_months": keep}).fetchall()
        detached = tuple(row["period"].strftime("%Y-%m") for row in rows)
        if detached:
            recorder.record(
                conn,
                customer_id=None,
                action="usage.partitions_detached",
                target_type="usage_events",
                detail={"months": list(detached), "tables": [row["table_name"] for row in rows], "keep_months": keep},
            )
    return detached


def maintain() -> PartitionReport:
    """The usage-partitions job: partitions ahead first, then the retention."""
    created = ensure_ahead()
    return PartitionReport(created=created, detached=detach_expired())
