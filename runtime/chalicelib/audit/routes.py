"""``GET /audit-events`` (the calling customer's own audit trail), its chain head, and the retention job."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron

from chalicelib.audit import service
from chalicelib.audit.models import AuditChainHead, AuditEventPage, AuditEventQuery
from chalicelib.core import contract
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
def list_audit_events(query: AuditEventQuery) -> AuditEventPage:
    return service.list_events(current_customer_id(), query)


@route(
    bp,
    "/audit-events/head",
    auth="customer",
    response=AuditChainHead,
    summary="The head of the customer's audit hash chain, to keep outside the platform",
    tags=("audit",),
    errors=(401, 403),
)
def audit_chain_head() -> AuditChainHead:
    return service.chain_head(current_customer_id())


RETENTION_JOB = contract.AUDIT_RETENTION_PURGE.name


@bp.schedule(
    Cron(30, 4, "*", "*", "?", "*"),
    name=RETENTION_JOB,
    description="Daily, 04:30 UTC: delete audit events past the 7-year retention, nothing else",
)
def audit_retention_purge(event: Any) -> dict[str, int]:
    purged = service.purge_expired()
    logger.info("audit retention purge done", extra={"purged": purged})
    return {"purged": purged}
