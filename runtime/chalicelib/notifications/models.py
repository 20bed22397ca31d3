"""Shapes of notifications: what to queue, what is stored, what the API returns."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from chalicelib.core.models import PageQuery, ResponseModel


class NotificationResponse(ResponseModel):
    id: str
    channel: Literal["email"]
    template: str
    recipient: str
    status: Literal["queued", "sent", "failed"]
    subject: str
    created_at: str
    sent_at: str | None
    error: str | None
    related_type: str | None = None
    related_id: str | None = None
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
class Notification:
    id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    template: str
    recipient: str
    status: str
    subject: str
    related_type: str | None
    related_id: uuid.UUID | None
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "channel": self.channel,
            "template": self.template,
            "recipient": self.recipient,
            "status": self.status,
            "subject": self.subject,
            "related_type": self.related_type,
            "related_id": None if self.related_id is None else str(self.related_id),
            "attempts": self.attempts,
            "created_at": iso_utc(self.created_at),
            "sent_at": iso_utc(self.sent_at),
            "error": self.error,
        }


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


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: tuple[Notification, ...]
    next_cursor: str | None

    def as_json(self) -> dict[str, Any]:
        return {"items": [item.as_json() for item in self.items], "next_cursor": self.next_cursor}


class NotificationsQuery(PageQuery):
    pass


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``: ``2026-10-31T23:59:59.123456Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
