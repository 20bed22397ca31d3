"""Shapes of notifications: what to queue, what is stored, what the API returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from chalicelib.core.models import PageQuery, ResponseModel, UtcTimestamp


# A delivery record as its customer reads it (never the e-mail's body).
class NotificationResponse(ResponseModel):
    id: uuid.UUID
    channel: Literal["email"]
    template: str
    recipient: str
    status: Literal["queued", "sent", "failed"]
    subject: str
    created_at: UtcTimestamp
    sent_at: UtcTimestamp | None
    error: str | None
    related_type: str | None = None
    related_id: uuid.UUID | None = None
    attempts: int = 0


class NotificationPageResponse(ResponseModel):
    items: list[NotificationResponse]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One e-mail to queue. ``idempotency_key`` names its purpose (e.g. ``invoice:<id>``):
    queuing the same key again for the same customer is a no-op, so it is sent at most once."""

    customer_id: uuid.UUID
    template: str
    recipient: str
    subject: str
    text_body: str
    html_body: str | None
    idempotency_key: str
    related_type: str | None = None
    related_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A claimed notification, as the mailer needs it."""

    id: uuid.UUID
    customer_id: uuid.UUID
    recipient: str
    subject: str
    text_body: str
    html_body: str | None
    related_type: str | None
    related_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # claimed by a concurrent deliverer, or already sent
    deferred: int = 0  # SES could not serve: still queued, sent by a later run (the rest of this run waits too)


class NotificationsQuery(PageQuery):
    pass
