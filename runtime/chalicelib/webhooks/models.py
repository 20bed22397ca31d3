"""Request/response shapes of ``/webhook-endpoints``, and what the sender works with.

An endpoint as the API shows it never carries its secret, except once, in
the answer to its creation. A delivery record is one *attempt* to deliver
one event to one endpoint (``webhook_delivery_attempts``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, UtcTimestamp

MAX_DESCRIPTION = 500


def utc_z(moment: datetime) -> str:
    """A moment as the API writes it (``core.models.UtcTimestamp``): ISO 8601 in UTC with a ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CreateEndpointBody(RequestModel):
    url: str = Field(max_length=2048, description="https URL whose host resolves to public addresses")
    # Checked by the service (422): non-empty, unique, each one of the event types.
    events: list[str] = Field(max_length=50, description="Event types to receive, e.g. invoice.finalized")
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class EndpointListQuery(PageQuery):
    pass


class DeliveryListQuery(PageQuery):
    pass


class EndpointResponse(ResponseModel):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    created_at: UtcTimestamp


class NewEndpointResponse(EndpointResponse):
    secret: str = Field(description="whsec_...: the signing secret, shown only in this response")


class EndpointPage(ResponseModel):
    items: list[EndpointResponse]
    next_cursor: str | None


class DeliveryResponse(ResponseModel):
    """One attempt to deliver one event to the endpoint."""

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    attempt: int
    status_code: int | None = Field(description="The endpoint's HTTP status; null when it did not answer")
    succeeded: bool
    created_at: UtcTimestamp
    next_attempt_at: UtcTimestamp | None = Field(description="When the next attempt is due; null when none is")


class DeliveryPage(ResponseModel):
    items: list[DeliveryResponse]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery under this sender's lease, with what sending it needs."""

    id: uuid.UUID
    customer_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    status: str
    attempts: int
    url: str
    secret_sealed: bytes
    event_type: str
    event_data: Any
    event_created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a sending run did: attempts that succeeded, failed; rows skipped (claimed elsewhere) or deferred."""

    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
