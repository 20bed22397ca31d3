"""``GET /audit-events``: the calling customer's own audit trail."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from chalicelib.audit import query as audit_query
from chalicelib.audit.models import AuditEventPage, AuditEventQuery
from chalicelib.core import db
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.core.observability import logger

bp = Blueprint(__name__)


@route(bp, "/audit-events", auth="customer", query=AuditEventQuery, response=AuditEventPage,
       summary="The customer's own audit trail, newest first", tags=("audit",))
def list_audit_events(query: AuditEventQuery) -> dict[str, Any]:
    return audit_query.list_events(current_customer_id(), query).model_dump(mode="json")


RETENTION_JOB = "audit_retention_purge"


@bp.schedule(Cron(30, 4, "*", "*", "?", "*"), name=RETENTION_JOB,
             description="Daily, 04:30 UTC: delete audit events past the 7-year retention, nothing else")
def audit_retention_purge(event: Any) -> dict[str, int]:
    with db.operator_transaction() as conn:
        purged = conn.execute("SELECT purge_expired_audit_events() AS purged").fetchone()["purged"]
    logger.info("audit retention purge done", extra={"purged": purged})
    return {"purged": purged}
