"""Request and response shapes of the authentication routes."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.models import RequestModel, ResponseModel


class AuthenticateBody(RequestModel):
    # Optional: the key may come in the ``X-Api-Key`` header instead.
    api_key: str | None = Field(default=None, max_length=200)


class RefreshBody(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenResponse(ResponseModel):
    token: str
    token_type: str
    expires_in: int
    expires_at: str
    refresh_token: str
    customer_id: str | None
