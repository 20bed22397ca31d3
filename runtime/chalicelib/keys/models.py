"""Request/response shapes for ``/api-keys``, and how a key row is presented."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, Field, StrictInt

from chalicelib.core.models import PageQuery, RequestModel, ResponseModel

MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DEFAULT_OVERLAP_SECONDS = 24 * 3600


class CreateKeyBody(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: AwareDatetime | None = None


class RotateKeyBody(RequestModel):
    overlap_seconds: StrictInt = Field(default=DEFAULT_OVERLAP_SECONDS, ge=0, le=MAX_OVERLAP_SECONDS)


class KeyListQuery(PageQuery):
    pass


class ApiKeyResponse(ResponseModel):
    id: str
    name: str
    prefix: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None = None
    last_used_at: str | None


class NewApiKeyResponse(ApiKeyResponse):
    key: str


class ApiKeyPage(ResponseModel):
    items: list[ApiKeyResponse]
    next_cursor: str | None


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def present(row: dict, *, key: str | None = None) -> dict:
    """A key row as the API shows it; ``key`` (the full key) only at creation."""
    out = {
        "id": str(row["id"]),
        "name": row["name"],
        "prefix": f"{row['prefix']}{row['public_id']}",
        "created_at": timestamp(row["created_at"]),
        "expires_at": timestamp(row["expires_at"]),
        "revoked_at": timestamp(row["revoked_at"]),
        "last_used_at": timestamp(row["last_used_at"]),
    }
    if key is not None:
        out["key"] = key
    return out
