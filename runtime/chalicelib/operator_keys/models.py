"""Request/response shapes for ``/admin/operator-keys``, and how a key row is presented."""

from __future__ import annotations

from pydantic import Field

from chalicelib.auth.key_format import OPERATOR_PREFIX
from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, Timestamp
from chalicelib.keys.models import timestamp


class CreateOperatorKeyBody(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    expires_at: Timestamp | None = Field(
        default=None, description="ISO 8601 with a zone, in the future; absent: never expires"
    )


class OperatorKeyListQuery(PageQuery):
    pass


class OperatorKeyResponse(ResponseModel):
    id: str
    operator_id: str = Field(description="The operator the key authenticates as")
    name: str
    prefix: str = Field(description="op_ and the key's public id: identifies the key, is no secret")
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class NewOperatorKeyResponse(OperatorKeyResponse):
    key: str = Field(description="The full key, shown only in this response")


class OperatorKeyPage(ResponseModel):
    items: list[OperatorKeyResponse]
    next_cursor: str | None


def present(row: dict, *, key: str | None = None) -> dict:
    """A key row as the API shows it (never its hash); ``key`` (the full key) only at creation."""
    out = {
        "id": str(row["id"]),
        "operator_id": str(row["operator_id"]),
        "name": row["name"],
        "prefix": f"{OPERATOR_PREFIX}{row['public_id']}",
        "created_at": timestamp(row["created_at"]),
        "expires_at": timestamp(row["expires_at"]),
        "revoked_at": timestamp(row["revoked_at"]),
        "last_used_at": timestamp(row["last_used_at"]),
    }
    if key is not None:
        out["key"] = key
    return out
