"""Request and response shapes for support tickets (also the OpenAPI document's)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, UtcTimestamp

Priority = Literal["low", "normal", "high", "urgent"]
TicketStatus = Literal["open", "closed"]

# "Not blank": at least one character that is not ASCII whitespace. Spelled as
# an explicit class so that Pydantic's regex engine and a JSON Schema (ECMA)
# validator agree on every string; text is stored as sent (no stripping, which
# would make the length a client validates differ from the one we check).
NOT_BLANK = r"[^\x09-\x0d\x20]"


class _TextModel(RequestModel):
    model_config = ConfigDict(str_strip_whitespace=False)


class TicketCreate(_TextModel):
    subject: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    body: str = Field(min_length=1, max_length=20000, pattern=NOT_BLANK)
    priority: Priority = "normal"


class TicketUpdate(_TextModel):
    """Only closing is supported; a closed ticket stays closed."""

    status: Literal["closed"]


class CommentCreate(_TextModel):
    body: str = Field(min_length=1, max_length=20000, pattern=NOT_BLANK)


class TicketListQuery(PageQuery):
    status: TicketStatus | None = None


class Comment(ResponseModel):
    id: uuid.UUID
    ticket_id: uuid.UUID
    author: str
    body: str
    created_at: UtcTimestamp


class Ticket(ResponseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    subject: str
    body: str
    priority: Priority
    status: TicketStatus
    created_by: str
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    closed_at: UtcTimestamp | None


class TicketDetail(Ticket):
    comments: list[Comment]


class TicketPage(ResponseModel):
    items: list[Ticket]
    next_cursor: str | None
