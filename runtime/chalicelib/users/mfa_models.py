"""Request and response shapes of a person's MFA routes (``/users/me/mfa``)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.models import RequestModel, ResponseModel


class MfaEnrolment(ResponseModel):
    """A pending enrolment: add ``secret`` (or the QR code of ``otpauth_uri``) to an authenticator app."""

    secret: str
    otpauth_uri: str


class MfaCodeBody(RequestModel):
    # A 6-digit TOTP code ("123 456" accepted); disabling also takes a recovery code.
    code: str = Field(min_length=1, max_length=32)


class RecoveryCodes(ResponseModel):
    """Ten single-use codes, shown once: each logs in (or disables MFA) instead of a TOTP code."""

    recovery_codes: list[str]
