"""``GET /audit-events`` (the calling customer's own audit trail), its chain head, and the retention job."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from chalicelib.audit import query as audit_query
from chalicelib.audit import recorder
from chalicelib.audit.models import AuditChainHead, AuditEventPage, AuditEventQuery
from chalicelib.core import db
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route
from chalicelib.core.observability import logger

bp = Blueprint(__name__)


@route(
    bp,
    "/audit-events",
    auth="customer",
    query=AuditEventQuery,
    response=AuditEventPage,
    summary="The customer's own audit trail, newest first",
    tags=("audit",),
)
def list_audit_events(query: AuditEventQuery) -> dict[str, Any]:
    return audit_query.list_events(current_customer_id(), query).model_dump(mode="json")


@route(
    bp,
    "/audit-events/head",
    auth="customer",
    response=AuditChainHead,
    summary="The head of the customer's audit hash chain, to keep outside the platform",
    tags=("audit",),
    errors=(401, 403),
)
def audit_chain_head() -> dict[str, Any]:
    return audit_query.chain_head(current_customer_id()).model_dump(mode="json")


RETENTION_JOB = "audit_retention_purge"
RETENTION_ACTOR = "system:audit_retention"


@bp.schedule(
    Cron(30, 4, "*", "*", "?", "*"),
    name=RETENTION_JOB,
    description="Daily, 04:30 UTC: delete audit events past the 7-year retention, nothing else",
)
def audit_retention_purge(event: Any) -> dict[str, int]:
    # The function runs as its own role (migration 0034); this job may only call it. A purge that
    # removed anything says so on the platform chain, in the same transaction.
    with db.operator_transaction(actor=RETENTION_ACTOR) as conn:
        purged = conn.execute("SELECT purge_expired_audit_events() AS purged").fetchone()["purged"]
        if purged:
            recorder.record(
                conn,
                customer_id=None,
                action="audit.purged",
                target_type="audit_events",
                detail={"purged": purged, "retention_years": 7},
            )
    logger.info("audit retention purge done", extra={"purged": purged})
    return {"purged": purged}
