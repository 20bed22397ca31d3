"""Request/response shapes for ``/admin/operator-keys``: a key as the API shows it (never its hash)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field, model_validator

from chalicelib.auth.key_format import OPERATOR_PREFIX
from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, Timestamp, UtcTimestamp


class CreateOperatorKeyBody(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: Timestamp | None = Field(
        default=None, description="ISO 8601 with a zone, in the future; absent: never expires"
    )


class OperatorKeyListQuery(PageQuery):
    pass


class OperatorKeyResponse(ResponseModel):
    id: uuid.UUID
    operator_id: uuid.UUID = Field(description="The operator the key authenticates as")
    name: str
    prefix: str = Field(description="op_ and the key's public id: identifies the key, is no secret")
    created_at: UtcTimestamp
    expires_at: UtcTimestamp | None
    revoked_at: UtcTimestamp | None
    last_used_at: UtcTimestamp | None

    @model_validator(mode="before")
    @classmethod
    def _shown_prefix(cls, row: Any) -> Any:
        # A stored operator key keeps only its public id; every one is shown with the op_ prefix.
        if isinstance(row, dict) and "public_id" in row:
            return {**row, "prefix": f"{OPERATOR_PREFIX}{row['public_id']}"}
        return row


class NewOperatorKeyResponse(OperatorKeyResponse):
    key: str = Field(description="The full key, shown only in this response")


class OperatorKeyPage(ResponseModel):
    items: list[OperatorKeyResponse]
    next_cursor: str | None
