"""User rules: invite (e-mailed token), accept, list, change a role, remove.

Which roles may call each route is the permission guard's (``auth.permissions``,
before any view runs). What depends on the resource is decided here: a caller
gives, changes or removes only roles ``permissions.may_grant`` lets it grant
(only an owner touches an owner: ``403``), and a tenant that has an owner
always keeps one (``409``). Every change that could remove the last owner
first locks the tenant's owner rows (``repository.lock_owners``), so two
concurrent demotions cannot both see "another owner remains".

Invitation tokens are ``auth.user_tokens`` tokens, ``inv_<tenant id>_<random>``:
the tenant in clear lets the unauthenticated acceptance open that tenant's
transaction and find the invitation by the token's SHA-256 under row-level
security, with no lookup across tenants. The e-mail is queued in the
invitation's transaction (it exists exactly when the invitation does) and sent
right after the commit; if that send fails, the scheduled deliverer sends it.

A role change moves the user's ``session_epoch`` in the same UPDATE, and a
removal deletes the row: either way every session of that person is refused
from their next request on (``auth_user_session_state`` compares on every request).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth import passwords, permissions, user_tokens
from chalicelib.core import context, db, errors
from chalicelib.core.context import Role, TenantRole
from chalicelib.core.db import Connection
from chalicelib.core.observability import logger
from chalicelib.core.pagination import keyset_page
from chalicelib.core.settings import get_settings
from chalicelib.customers import repository as customers
from chalicelib.notifications import service as notifications
from chalicelib.users import emails, repository
from chalicelib.users.models import (
    AcceptInvitationBody,
    InvitationResponse,
    InviteBody,
    UserListQuery,
    UserPage,
    UserResponse,
)

# One answer for a used, expired, unknown or malformed token: none tells which it was.
INVALID_INVITATION = "Invalid or expired invitation"


def issue_invitation(
    conn: Connection, *, customer_id: uuid.UUID, email: str, role: TenantRole, company_name: str
) -> tuple[InvitationResponse, uuid.UUID]:
    """Insert an invitation on ``conn`` (a tenant or the onboarding transaction), queue its e-mail, audit it.

    ``email`` is lowercase already. Returns the invitation and the queued
    notification's id (send it with :func:`send_now` after the commit).
    """
    token, token_hash = user_tokens.new_token(user_tokens.INVITATION, customer_id)
    row = repository.insert_invitation(
        conn,
        customer_id=customer_id,
        email=email,
        role=role,
        token_hash=token_hash,
        invited_by=context.current_actor(),
        valid_for=emails.INVITATION_VALID_FOR,
    )
    message = emails.invitation_message(
        customer_id=customer_id,
        invitation_id=row["id"],
        email=email,
        role=role,
        token=token,
        expires_at=row["expires_at"],
        company_name=company_name,
    )
    notification_id = notifications.queue_message(conn, message)
    recorder.record(
        conn,
        customer_id=customer_id,
        action="user.invited",
        target_type="user_invitation",
        target_id=row["id"],
        detail={"email": email, "role": str(role)},
    )
    return InvitationResponse.model_validate(row), notification_id


def send_now(customer_id: uuid.UUID, notification_id: uuid.UUID) -> None:
    """Deliver a committed e-mail now rather than at the next scheduled run.

    The change that queued it is committed and its answer (for onboarding, an
    API key shown once) must reach the caller: a failure here is logged and
    left to the scheduled deliverer, never raised.
    """
    try:
        notifications.deliver_pending(customer_id=customer_id, notification_ids=[notification_id])
    except Exception as exc:  # noqa: BLE001 - the e-mail stays queued; the scheduled run sends it
        logger.warning(
            "immediate delivery failed; left to the scheduled run",
            extra={"notification_id": str(notification_id), "error": type(exc).__name__},
        )


def _check_grant(caller: TenantRole | None, role: str, action: str) -> None:
    """403 unless ``caller`` may grant ``role`` (only an owner invites, changes or removes an owner)."""
    if caller is None or not permissions.may_grant(caller, TenantRole(role)):
        raise errors.Forbidden(f"Your role ({caller or 'none'}) may not {action} a user with the role {role}")


def invite(customer_id: uuid.UUID, body: InviteBody, caller: TenantRole | None) -> InvitationResponse:
    """Invite ``body.email`` as ``body.role``; 409 for a member; a pending invitation is replaced."""
    _check_grant(caller, body.role, "invite")
    with db.tenant_transaction(customer_id) as conn:
        repository.lock_address(conn, customer_id, body.email)
        if repository.is_member(conn, body.email):
            raise errors.Conflict("This address is already a member of your organization")
        customer = customers.get_own(conn)
        if customer is None:
            raise errors.NotFound("Customer not found")
        repository.expire_pending(conn, customer_id, body.email)
        invitation, notification_id = issue_invitation(
            conn, customer_id=customer_id, email=body.email, role=body.role, company_name=customer["name"]
        )
    send_now(customer_id, notification_id)
    return invitation


def accept(body: AcceptInvitationBody) -> UserResponse:
    """Redeem an invitation: a new user with the invited address and role (unauthenticated)."""
    parsed = user_tokens.parse(user_tokens.INVITATION, body.token)
    if parsed is None:
        raise errors.BadRequest(INVALID_INVITATION)
    system = "system"
    # A cheap look first: a well-formed but unknown token costs no bcrypt work.
    with db.tenant_transaction(parsed.customer_id, actor=system) as conn:
        if repository.pending_invitation(conn, parsed.token_hash) is None:
            raise errors.BadRequest(INVALID_INVITATION)
    password_hash = passwords.hash_password(body.password, get_settings().bcrypt_cost)  # slow: before any lock
    with db.tenant_transaction(parsed.customer_id, actor=system) as conn:
        invitation = repository.pending_invitation(conn, parsed.token_hash, for_update=True)
        if invitation is None:  # accepted (or replaced) while the password was hashed
            raise errors.BadRequest(INVALID_INVITATION)
        user = repository.insert_user(
            conn,
            customer_id=parsed.customer_id,
            email=invitation["email"],
            name=body.name,
            role=invitation["role"],
            password_hash=password_hash,
        )
        repository.accept_invitation(conn, invitation["id"], user["id"])
        recorder.record(
            conn,
            customer_id=parsed.customer_id,
            action="user.joined",
            target_type="user",
            target_id=user["id"],
            detail={"email": user["email"], "role": user["role"], "invitation_id": str(invitation["id"])},
            actor=context.actor_for(
                context.Principal(
                    role=Role.CUSTOMER, subject=parsed.customer_id, key_id=None, session_id="", user_id=user["id"]
                )
            ),
        )
    return UserResponse.model_validate(user)


def list_users(customer_id: uuid.UUID, query: UserListQuery) -> UserPage:
    """The tenant's users, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_page(conn, limit=limit, after=after)
        )
    return UserPage(items=[UserResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def me(principal: context.Principal) -> UserResponse:
    """The caller's own user; an API key is no person (404)."""
    if principal.customer_id is None or principal.user_id is None:
        raise errors.NotFound("This credential is not a person: only users have a user object")
    with db.tenant_transaction(principal.customer_id) as conn:
        row = repository.get_user(conn, principal.user_id)
    if row is None:
        raise errors.NotFound("User not found")
    return UserResponse.model_validate(row)


def _locked_target(conn: Connection, customer_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's owners locked (always first, in one order), then the target user; 404 if not the tenant's."""
    repository.lock_owners(conn, customer_id)
    target = repository.get_user(conn, user_id, for_update=True)
    if target is None:
        raise errors.NotFound("User not found")
    return target


def _keep_an_owner(conn: Connection, customer_id: uuid.UUID, target: dict[str, Any], action: str) -> None:
    if target["role"] == TenantRole.OWNER and repository.count_owners(conn, customer_id) <= 1:
        raise errors.Conflict(f"Cannot {action} the last owner: make another user owner first")


def change_role(
    customer_id: uuid.UUID, user_id: uuid.UUID, role: TenantRole, caller: TenantRole | None
) -> UserResponse:
    """Give a user another role; their sessions end at once (``409`` for the last owner)."""
    with db.tenant_transaction(customer_id) as conn:
        target = _locked_target(conn, customer_id, user_id)
        _check_grant(caller, target["role"], "change")
        _check_grant(caller, role, "make")
        if target["role"] == role:
            return UserResponse.model_validate(target)  # nothing changes; the sessions live on
        _keep_an_owner(conn, customer_id, target, "demote")
        updated = repository.set_role(conn, user_id, role)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="user.role_changed",
            target_type="user",
            target_id=user_id,
            detail={"from": target["role"], "to": str(role), "sessions_ended": True},
        )
    return UserResponse.model_validate(updated)


def remove(customer_id: uuid.UUID, user_id: uuid.UUID, caller: TenantRole | None) -> None:
    """Delete a user; their sessions end at once (``409`` for the last owner)."""
    with db.tenant_transaction(customer_id) as conn:
        target = _locked_target(conn, customer_id, user_id)
        _check_grant(caller, target["role"], "remove")
        _keep_an_owner(conn, customer_id, target, "remove")
        repository.delete_user(conn, user_id)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="user.removed",
            target_type="user",
            target_id=user_id,
            detail={"email": target["email"], "role": target["role"]},
        )
