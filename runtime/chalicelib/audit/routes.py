"""``GET /audit-events``: the calling customer's own audit trail."""
from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.audit import query as audit_query
from chalicelib.audit.models import AuditEventPage, AuditEventQuery
from chalicelib.core.context import current_customer_id
from chalicelib.core.http import route

bp = Blueprint(__name__)


@route(bp, "/audit-events", auth="customer", query=AuditEventQuery, response=AuditEventPage,
       summary="The customer's own audit trail, newest first", tags=("audit",))
def list_audit_events(query: AuditEventQuery) -> dict[str, Any]:
    return audit_query.list_events(current_customer_id(), query).model_dump(mode="json")
