"""The tenant's audit trail as the API shows it (also the OpenAPI document's shape)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from chalicelib.core.models import PageQuery, ResponseModel


class AuditEventQuery(PageQuery):
    pass


class AuditEvent(ResponseModel):
    id: uuid.UUID
    occurred_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str | None
    detail: dict[str, Any]
    request_id: str | None


class AuditEventPage(ResponseModel):
    items: list[AuditEvent]
    next_cursor: str | None
