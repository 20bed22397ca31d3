"""Request/response shapes for ``/users``: invitations, accepting one, the team, one's own user.

A user as the API shows it never carries the password hash, the MFA secrets or
the session epoch: :class:`UserResponse` lists the contract's fields only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

from chalicelib.auth.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from chalicelib.auth.passwords import MIN_LENGTH as PASSWORD_MIN_LENGTH
from chalicelib.core.context import TenantRole
from chalicelib.core.models import PageQuery, RequestModel, ResponseModel, UtcTimestamp
from chalicelib.core.text import EMAIL_MIN_LENGTH, EMAIL_PATTERN, is_email_address

# What the users tables store (their CHECK): RFC 5321's path limit, below core.text's 320.
USER_EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 200


def _normalized_email(value: str) -> str:
    """The address as people are stored: lowercase, and one a mail server accepts (else 400).

    Lowercasing can lengthen a string (``"İ"`` becomes two code points), so the
    length is checked again afterwards: the table's CHECK must never be what
    refuses an address (that would be a 500).
    """
    email = value.lower()
    if not is_email_address(email) or len(email) > USER_EMAIL_MAX_LENGTH:
        raise ValueError("not an e-mail address that can receive mail")
    return email


# An invitee's address: the API's e-mail pattern, at most 254 characters, stored lowercase.
UserEmail = Annotated[
    str,
    Field(min_length=EMAIL_MIN_LENGTH, max_length=USER_EMAIL_MAX_LENGTH, pattern=EMAIL_PATTERN),
    AfterValidator(_normalized_email),
]


class InviteBody(RequestModel):
    email: UserEmail
    role: TenantRole


class InvitationResponse(ResponseModel):
    id: uuid.UUID
    email: str
    role: TenantRole
    expires_at: UtcTimestamp


class AcceptInvitationBody(RequestModel):
    # The token from the e-mail (``inv_<tenant>_<random>``); anything malformed is the same 400 as unknown.
    token: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=NAME_MAX_LENGTH)
    # Trimmed like every request string, exactly as POST /auth/login trims it, so the two always agree.
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)


class ChangeRoleBody(RequestModel):
    role: TenantRole


class UserListQuery(PageQuery):
    pass


class UserResponse(ResponseModel):
    id: uuid.UUID
    email: str
    name: str
    role: TenantRole
    mfa_enabled: bool
    created_at: UtcTimestamp
    last_login_at: UtcTimestamp | None


class UserPage(ResponseModel):
    items: list[UserResponse]
    next_cursor: str | None
