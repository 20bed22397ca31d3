"""Request and response shapes of the authentication routes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field, RootModel

from chalicelib.auth.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from chalicelib.auth.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
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


class LoginBody(RequestModel):
    email: str = Field(min_length=1, max_length=254)
    # Any length is checked (and refused) the same way: the policy applies when a password is set.
    password: str = Field(min_length=1, max_length=1024)


class MfaChallenge(ResponseModel):
    """A login's answer when the person has MFA: exchange ``mfa_token`` and a code at ``POST /auth/mfa``."""

    mfa_required: Literal[True] = True
    mfa_token: str
    expires_in: int


class MfaBody(RequestModel):
    mfa_token: str = Field(min_length=1, max_length=200)
    # A 6-digit TOTP code ("123 456" accepted) or a recovery code.
    code: str = Field(min_length=1, max_length=32)


class PasswordResetBody(RequestModel):
    email: str = Field(min_length=1, max_length=254)


class PasswordResetConfirmBody(RequestModel):
    token: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class LoginResponse(RootModel[TokenResponse | MfaChallenge]):
    """``POST /auth/login``: a token pair, or the MFA step when the person has enrolled."""


class PasswordResetAccepted(ResponseModel):
    """The same answer whether or not the address has an account."""

    message: str = "If the address has an account, a reset link valid for one hour is on its way"
