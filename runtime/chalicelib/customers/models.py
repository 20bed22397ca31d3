"""Request/response shapes for ``/customers/me`` and ``/admin/customers``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Literal

from pydantic import Field, StrictBool

from chalicelib.core.models import DecimalString, PageQuery, RequestModel, ResponseModel, UtcTimestamp
from chalicelib.core.text import EMAIL_MAX_LENGTH, EMAIL_MIN_LENGTH, EMAIL_PATTERN
from chalicelib.users.models import InvitationResponse, UserEmail

_TIER = r"^[a-z][a-z0-9_]{0,39}$"
_RATE = r"^\d{1,2}(\.\d{1,4})?$"


class OnboardBody(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=EMAIL_MIN_LENGTH, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN)
    tier: str = Field(pattern=_TIER)
    tax_rate: str | None = Field(default=None, pattern=_RATE)
    billing_start_date: date | None = None
    # The tenant's first owner: invited (the e-mail queued) in the onboarding transaction.
    owner_email: UserEmail | None = None


class PatchMeBody(RequestModel):
    """``PATCH /customers/me``: the tenant's own settings."""

    require_mfa: StrictBool


class PatchCustomerBody(RequestModel):
    tier: str | None = Field(default=None, pattern=_TIER)
    status: Literal["active", "suspended"] | None = None
    tax_rate: str | None = Field(default=None, pattern=_RATE)
    email: str | None = Field(
        default=None, min_length=EMAIL_MIN_LENGTH, max_length=EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN
    )


class CustomerListQuery(PageQuery):
    pass


class CustomerResponse(ResponseModel):
    id: uuid.UUID
    name: str
    email: str
    tier: str = Field(validation_alias="tier_code")
    status: str
    tax_rate: DecimalString
    billing_start_date: date
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    require_mfa: bool = False


class MeResponse(CustomerResponse):
    features: dict[str, Any]
    limits: dict[str, Any]


class CustomerPage(ResponseModel):
    items: list[CustomerResponse]
    next_cursor: str | None


class OnboardResponse(ResponseModel):
    customer: CustomerResponse
    api_key: dict[str, Any]  # the first key as POST /api-keys shows it (the full key, once); built by keys.service
    owner_invitation: InvitationResponse | None = None  # when the body named an owner_email
