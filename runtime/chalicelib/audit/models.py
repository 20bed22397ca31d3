"""The tenant's audit trail as the API shows it (also the OpenAPI document's shape)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from chalicelib.core.models import PageQuery, ResponseModel, UtcTimestamp


class AuditEventQuery(PageQuery):
    pass


class AuditEvent(ResponseModel):
    id: uuid.UUID
    occurred_at: UtcTimestamp
    actor: str
    action: str
    target_type: str
    target_id: str | None
    detail: dict[str, Any]
    request_id: str | None


class AuditEventPage(ResponseModel):
    items: list[AuditEvent]
    next_cursor: str | None


class AuditChainHead(ResponseModel):
    """The newest link of the customer's hash chain: keep it outside the platform, compare it later."""

    count: int = Field(
        description="Events appended to the chain so far: the newest event's sequence number "
        "(1-based; unchanged when the 7-year retention removes old events)"
    )
    last_event_id: uuid.UUID | None = Field(
        description="The newest event's id (GET /audit-events); null when the chain is empty"
    )
    last_hash: str | None = Field(
        description="The newest event's SHA-256 chain hash, 64 lowercase hex digits; "
        "it covers that event and, through each previous hash, every "
        "earlier one. Null when the chain is empty"
    )
    as_of: UtcTimestamp = Field(description="When the head was read (the database's clock, UTC)")
