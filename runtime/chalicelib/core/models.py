"""Pydantic building blocks shared by the areas' request/response models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field


def _iso_string(value: Any) -> Any:
    # JSON carries timestamps as ISO 8601 strings (the document says so);
    # Pydantic alone would also take a number as Unix seconds.
    if not isinstance(value, (str, datetime)):
        raise ValueError("timestamp must be an ISO 8601 string with a zone")
    return value


# A timestamp in a request: an ISO 8601 string with a zone, nothing else.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string)]


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
