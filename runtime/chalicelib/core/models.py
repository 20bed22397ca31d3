"""Pydantic building blocks shared by the areas' request/response models."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RequestModel(BaseModel):
    """Request bodies and query strings: unknown fields are rejected, strings trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class PageQuery(RequestModel):
    """``limit`` (1-100, default 50) and an opaque ``cursor``, shared by every list endpoint."""

    limit: int = Field(default=50, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)


class ResponseModel(BaseModel):
    """Response documents (used for the OpenAPI document)."""

    model_config = ConfigDict(extra="allow")
