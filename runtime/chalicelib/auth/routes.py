"""``/auth/authenticate``, ``/auth/refresh``, ``/auth/logout``."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.auth import authentication, bootstrap, login, password_reset, sessions, token_refresh
from chalicelib.auth.models import (
    AuthenticateBody,
    LoginBody,
    LoginResponse,
    MfaBody,
    PasswordResetAccepted,
    PasswordResetBody,
    PasswordResetConfirmBody,
    RefreshBody,
    TokenResponse,
)
from chalicelib.core import context, contract
from chalicelib.core.http import route

bp = Blueprint(__name__)


@route(
    bp,
    "/auth/authenticate",
    method="POST",
    auth=None,
    body=AuthenticateBody,
    response=TokenResponse,
    summary="Exchange an API key (body or X-Api-Key header) for a 24-hour token",
    tags=("auth",),
    errors=(400, 401, 403, 429),
)
def authenticate(body: AuthenticateBody) -> TokenResponse:
    request = bp.current_request
    api_key = body.api_key or request.headers.get("x-api-key")
    return authentication.authenticate(api_key, client_address=_client_address())


def _client_address() -> str | None:
    """API Gateway's view of the caller's address (X-Forwarded-For is client-controlled)."""
    address = ((bp.current_request.context or {}).get("identity") or {}).get("sourceIp")
    return None if address is None else str(address)


@route(
    bp,
    "/auth/login",
    method="POST",
    auth=None,
    body=LoginBody,
    response=LoginResponse,
    summary="A person logs in with e-mail and password: a token pair, or the MFA step",
    tags=("auth",),
    errors=(400, 401, 403, 429),
)
def log_in(body: LoginBody) -> LoginResponse:
    return LoginResponse(login.login(body.email, body.password, client_address=_client_address()))


@route(
    bp,
    "/auth/mfa",
    method="POST",
    auth=None,
    body=MfaBody,
    response=TokenResponse,
    summary="Complete a login with a TOTP code or a recovery code",
    tags=("auth",),
    errors=(400, 401, 403),
)
def complete_mfa(body: MfaBody) -> TokenResponse:
    return login.verify_mfa(body.mfa_token, body.code)


@route(
    bp,
    "/auth/password-reset",
    method="POST",
    auth=None,
    status=202,
    body=PasswordResetBody,
    response=PasswordResetAccepted,
    summary="E-mail a password reset link (202 whether or not the address has an account)",
    tags=("auth",),
    errors=(400,),
)
def request_password_reset(body: PasswordResetBody) -> PasswordResetAccepted:
    password_reset.request_reset(body.email)
    return PasswordResetAccepted()


@route(
    bp,
    "/auth/password-reset/confirm",
    method="POST",
    auth=None,
    status=204,
    body=PasswordResetConfirmBody,
    summary="Set a new password with the e-mailed token; every session of that person ends",
    tags=("auth",),
    errors=(400,),
)
def confirm_password_reset(body: PasswordResetConfirmBody) -> None:
    password_reset.confirm_reset(body.token, body.password)


@route(
    bp,
    "/auth/refresh",
    method="POST",
    auth=None,
    body=RefreshBody,
    response=TokenResponse,
    summary="Rotate a single-use refresh token for a new token pair",
    tags=("auth",),
    errors=(400, 401, 403),
)
def refresh(body: RefreshBody) -> TokenResponse:
    return token_refresh.refresh(body.refresh_token)


@route(
    bp,
    "/auth/logout",
    method="POST",
    auth="any",
    status=204,
    summary="Revoke the current session",
    tags=("auth",),
    errors=(401, 403),
)
def logout() -> None:
    sessions.logout(context.current_principal())


@bp.lambda_function(name=contract.CREATE_OPERATOR_KEY.name)
def create_operator_key(event: dict[str, Any], context_: object) -> dict[str, str]:
    """Invoked once after a deploy: ``{"email": "...", "name": "..."}`` → a new operator key (shown once)."""
    created = bootstrap.create_operator_key(email=str(event.get("email", "")), name=str(event.get("name", "")))
    return {"operator_id": str(created.operator_id), "key_id": str(created.key_id), "api_key": created.key}
