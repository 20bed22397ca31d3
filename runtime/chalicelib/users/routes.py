"""``/users``: invitations, accepting one (unauthenticated), the team, one's own user, roles, removal.

The permission guard has checked each route's rule before a view runs
(``auth.permissions``); the views pass the caller's role on for the rules
that depend on the user concerned.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id, current_principal
from chalicelib.core.http import path_uuid, route
from chalicelib.users import service
from chalicelib.users.models import (
    AcceptInvitationBody,
    ChangeRoleBody,
    InvitationResponse,
    InviteBody,
    UserListQuery,
    UserPage,
    UserResponse,
)

bp = Blueprint(__name__)
TAGS = ("users",)


@route(
    bp,
    "/users/invitations",
    method="POST",
    auth="customer",
    status=201,
    body=InviteBody,
    response=InvitationResponse,
    summary="Invite a person by e-mail (a single-use link valid 7 days); replaces their pending invitation",
    tags=TAGS,
    errors=(400, 401, 403, 409, 422),
)
def invite(body: InviteBody) -> InvitationResponse:
    return service.invite(current_customer_id(), body, current_principal().tenant_role)


@route(
    bp,
    "/users/accept-invitation",
    method="POST",
    auth=None,
    status=201,
    body=AcceptInvitationBody,
    response=UserResponse,
    summary="Accept an invitation: choose a name and a password (12-128 characters)",
    tags=TAGS,
    errors=(400, 409, 422),
)
def accept_invitation(body: AcceptInvitationBody) -> UserResponse:
    return service.accept(body)


@route(
    bp,
    "/users",
    auth="customer",
    query=UserListQuery,
    response=UserPage,
    summary="List the organization's users",
    tags=TAGS,
    errors=(400, 401, 403),
)
def list_users(query: UserListQuery) -> UserPage:
    return service.list_users(current_customer_id(), query)


@route(
    bp,
    "/users/me",
    auth="customer",
    response=UserResponse,
    summary="The caller's own user (404 for an API key: it is not a person)",
    tags=TAGS,
    errors=(401, 403, 404),
)
def me() -> UserResponse:
    return service.me(current_principal())


@route(
    bp,
    "/users/{user_id}",
    method="PATCH",
    auth="customer",
    body=ChangeRoleBody,
    response=UserResponse,
    summary="Change a user's role; every session of that user ends",
    tags=TAGS,
    errors=(400, 401, 403, 404, 409),
)
def change_role(user_id: str, body: ChangeRoleBody) -> UserResponse:
    return service.change_role(current_customer_id(), path_uuid(user_id), body.role, current_principal().tenant_role)


@route(
    bp,
    "/users/{user_id}",
    method="DELETE",
    auth="customer",
    status=204,
    summary="Remove a user; every session of that user ends",
    tags=TAGS,
    errors=(401, 403, 404, 409),
)
def remove_user(user_id: str) -> None:
    service.remove(current_customer_id(), path_uuid(user_id), current_principal().tenant_role)
