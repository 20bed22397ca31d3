"""Request and response shapes of the authentication routes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from chalicelib.core.models import RequestModel, ResponseModel, UtcTimestamp


class AuthenticateBody(RequestModel):
    # Optional: the key may come in the ``X-Api-Key`` header instead.
    api_key: str | None = Field(default=None, max_length=200)


class RefreshBody(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenResponse(ResponseModel):
    """A token pair: what authentication and refresh answer (and what the services return)."""

    token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    expires_at: UtcTimestamp
    refresh_token: str
    customer_id: uuid.UUID | None
