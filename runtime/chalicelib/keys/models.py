"""Request/response shapes for ``/api-keys``: a key as the API shows it (never its hash)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import AwareDatetime, Field, StrictInt, model_validator

from chalicelib.core.context import TenantRole
from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, UtcTimestamp

MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DEFAULT_OVERLAP_SECONDS = 24 * 3600


class CreateKeyBody(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None
    # What the key may do (the contract's role table); never above the caller's own role (403).
    role: TenantRole = TenantRole.DEVELOPER


class RotateKeyBody(RequestModel):
    overlap_seconds: StrictInt = Field(default=DEFAULT_OVERLAP_SECONDS, ge=0, le=MAX_OVERLAP_SECONDS)


class KeyListQuery(PageQuery):
    pass


class ApiKeyResponse(ResponseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: UtcTimestamp
    expires_at: UtcTimestamp | None
    revoked_at: UtcTimestamp | None = None
    last_used_at: UtcTimestamp | None
    role: TenantRole

    @model_validator(mode="before")
    @classmethod
    def _shown_prefix(cls, row: Any) -> Any:
        # A stored key has its prefix (sk_live_/sk_test_) and public id apart; the API shows them as one.
        if isinstance(row, dict) and "public_id" in row:
            return {**row, "prefix": f"{row['prefix']}{row['public_id']}"}
        return row


class NewApiKeyResponse(ApiKeyResponse):
    key: str


class ApiKeyPage(ResponseModel):
    items: list[ApiKeyResponse]
    next_cursor: str | None
