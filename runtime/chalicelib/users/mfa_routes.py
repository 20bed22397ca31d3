"""``/users/me/mfa``: a person enrols in, confirms and disables their second factor."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.http import route
from chalicelib.users import mfa
from chalicelib.users.mfa_models import MfaCodeBody, MfaEnrolment, RecoveryCodes

bp = Blueprint(__name__)


@route(
    bp,
    "/users/me/mfa",
    method="POST",
    auth="customer",
    status=201,
    response=MfaEnrolment,
    summary="Start enrolling in TOTP MFA: a new secret, pending until confirmed",
    tags=("users",),
    errors=(401, 403, 404, 409),
)
def enrol() -> MfaEnrolment:
    return mfa.enrol()


@route(
    bp,
    "/users/me/mfa/confirm",
    method="POST",
    auth="customer",
    body=MfaCodeBody,
    response=RecoveryCodes,
    summary="Confirm the pending secret with a code; returns ten recovery codes, shown once",
    tags=("users",),
    errors=(400, 401, 403, 404, 409),
)
def confirm(body: MfaCodeBody) -> RecoveryCodes:
    return mfa.confirm(body.code)


@route(
    bp,
    "/users/me/mfa",
    method="DELETE",
    auth="customer",
    status=204,
    body=MfaCodeBody,
    summary="Disable MFA with a current code or a recovery code; every session of the person ends",
    tags=("users",),
    errors=(400, 401, 403, 404, 409),
)
def disable(body: MfaCodeBody) -> None:
    mfa.disable(body.code)
