"""The contract's tenant-role table, in code: which permission each tenant route needs, which roles hold it.

One table, read by one guard before any service runs: no route decides its own
rule. Every route a tenant credential may call (``auth="customer"`` or
``"any"``) has exactly one entry in :data:`ROUTES`; a test walks the registry
so a new route without a rule fails the build. Operator routes and
unauthenticated ones are not tenant routes and are not here.

Pure data and pure functions: no I/O, nothing imported but the roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from chalicelib.core.context import TenantRole

OWNER, ADMIN, BILLING, DEVELOPER, VIEWER = (
    TenantRole.OWNER,
    TenantRole.ADMIN,
    TenantRole.BILLING,
    TenantRole.DEVELOPER,
    TenantRole.VIEWER,
)


class Permission(StrEnum):
    """One row of the contract's table ("may…"), plus :attr:`SELF`."""

    READ = "read"  # profile, usage, notifications, tickets
    SEND_USAGE = "send_usage"
    READ_INVOICES = "read_invoices"  # invoices, their PDFs, the upcoming invoice
    MANAGE_PAYMENT_METHOD = "manage_payment_method"
    MANAGE_API_KEYS = "manage_api_keys"
    WRITE_TICKETS = "write_tickets"  # open, comment on and close
    MANAGE_WEBHOOKS = "manage_webhooks"  # webhook endpoints and usage alerts
    READ_AUDIT = "read_audit"
    MANAGE_USERS = "manage_users"  # invite and manage users, tenant settings
    # Not a row of the table: what any authenticated tenant credential may do to itself
    # (log out, read its own user, enrol in or leave MFA). Every role holds it.
    SELF = "self"


_EVERYONE = frozenset(TenantRole)

# The contract's table, column by column (API_REFERENCE.md, "Tenant roles").
ALLOWED: Mapping[Permission, frozenset[TenantRole]] = MappingProxyType(
    {
        Permission.READ: _EVERYONE,
        Permission.SEND_USAGE: frozenset({OWNER, ADMIN, DEVELOPER}),
        Permission.READ_INVOICES: frozenset({OWNER, ADMIN, BILLING, VIEWER}),
        Permission.MANAGE_PAYMENT_METHOD: frozenset({OWNER, ADMIN, BILLING}),
        Permission.MANAGE_API_KEYS: frozenset({OWNER, ADMIN, DEVELOPER}),
        Permission.WRITE_TICKETS: frozenset({OWNER, ADMIN, BILLING, DEVELOPER}),
        Permission.MANAGE_WEBHOOKS: frozenset({OWNER, ADMIN, DEVELOPER}),
        Permission.READ_AUDIT: frozenset({OWNER, ADMIN}),
        # An admin manages users "but not owners": may_grant holds that part.
        Permission.MANAGE_USERS: frozenset({OWNER, ADMIN}),
        Permission.SELF: _EVERYONE,
    }
)

# Every tenant route: (METHOD, path template exactly as registered with core.http.route).
ROUTES: Mapping[tuple[str, str], Permission] = MappingProxyType(
    {
        # The tenant itself
        ("GET", "/customers/me"): Permission.READ,
        ("PATCH", "/customers/me"): Permission.MANAGE_USERS,  # tenant settings (require_mfa)
        # Usage
        ("POST", "/metrics"): Permission.SEND_USAGE,
        ("GET", "/metrics"): Permission.READ,
        # Notifications
        ("GET", "/notifications"): Permission.READ,
        # Support tickets
        ("GET", "/support-tickets"): Permission.READ,
        ("GET", "/support-tickets/{id}"): Permission.READ,
        ("POST", "/support-tickets"): Permission.WRITE_TICKETS,
        ("POST", "/support-tickets/{id}/comments"): Permission.WRITE_TICKETS,
        ("PATCH", "/support-tickets/{id}"): Permission.WRITE_TICKETS,
        # Invoices
        ("GET", "/invoices"): Permission.READ_INVOICES,
        ("GET", "/invoices/{invoice_id}"): Permission.READ_INVOICES,
        ("GET", "/invoices/{invoice_id}/pdf"): Permission.READ_INVOICES,
        ("GET", "/invoices/upcoming"): Permission.READ_INVOICES,
        # The payment method (Stripe)
        ("POST", "/billing/setup-intent"): Permission.MANAGE_PAYMENT_METHOD,
        ("POST", "/billing/payment-method"): Permission.MANAGE_PAYMENT_METHOD,
        ("GET", "/billing/payment-method"): Permission.MANAGE_PAYMENT_METHOD,
        # API keys: listing them is part of managing them (the table's read row does not name keys)
        ("POST", "/api-keys"): Permission.MANAGE_API_KEYS,
        ("GET", "/api-keys"): Permission.MANAGE_API_KEYS,
        ("DELETE", "/api-keys/{key_id}"): Permission.MANAGE_API_KEYS,
        ("POST", "/api-keys/{key_id}/rotate"): Permission.MANAGE_API_KEYS,
        # Usage alerts
        ("POST", "/usage-alerts"): Permission.MANAGE_WEBHOOKS,
        ("GET", "/usage-alerts"): Permission.MANAGE_WEBHOOKS,
        ("DELETE", "/usage-alerts/{alert_id}"): Permission.MANAGE_WEBHOOKS,
        # Webhook endpoints and their deliveries
        ("POST", "/webhook-endpoints"): Permission.MANAGE_WEBHOOKS,
        ("GET", "/webhook-endpoints"): Permission.MANAGE_WEBHOOKS,
        ("DELETE", "/webhook-endpoints/{endpoint_id}"): Permission.MANAGE_WEBHOOKS,
        ("GET", "/webhook-endpoints/{endpoint_id}/deliveries"): Permission.MANAGE_WEBHOOKS,
        ("POST", "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"): Permission.MANAGE_WEBHOOKS,
        # Audit trail
        ("GET", "/audit-events"): Permission.READ_AUDIT,
        ("GET", "/audit-events/head"): Permission.READ_AUDIT,
        # Users: the team list is part of managing it; one's own user is SELF
        ("POST", "/users/invitations"): Permission.MANAGE_USERS,
        ("GET", "/users"): Permission.MANAGE_USERS,
        ("PATCH", "/users/{user_id}"): Permission.MANAGE_USERS,
        ("DELETE", "/users/{user_id}"): Permission.MANAGE_USERS,
        ("GET", "/users/me"): Permission.SELF,
        ("POST", "/users/me/mfa"): Permission.SELF,
        ("POST", "/users/me/mfa/confirm"): Permission.SELF,
        ("DELETE", "/users/me/mfa"): Permission.SELF,
        # Sessions (auth="any": an operator logs out too; the table binds tenant credentials only)
        ("POST", "/auth/logout"): Permission.SELF,
    }
)

# What a person without MFA may still call while their tenant requires it: enough to
# enrol (or give up and leave), nothing else. Leaving MFA (DELETE) is not among them.
MFA_EXEMPT: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/users/me/mfa"),
        ("POST", "/users/me/mfa/confirm"),
        ("POST", "/auth/logout"),
        ("GET", "/users/me"),
    }
)


def permission_for(method: str, path: str) -> Permission | None:
    """The permission ``method path`` (a registered path template) needs; ``None`` if it is no tenant route.

    The guard must treat ``None`` on a tenant route as forbidden (fail closed).
    """
    return ROUTES.get((method.upper(), path))


def allows(role: TenantRole, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission`` per the contract's table."""
    return role in ALLOWED[permission]


def permissions_of(role: TenantRole) -> frozenset[Permission]:
    """Every permission ``role`` holds (a column of the table)."""
    return frozenset(permission for permission, roles in ALLOWED.items() if role in roles)


def may_grant(granter: TenantRole, role: TenantRole) -> bool:
    """Whether a credential acting as ``granter`` may give ``role`` to someone (or to a new API key).

    The rule ("never above the caller's own role"): ``role`` is not above
    ``granter`` when everything ``role`` may do, ``granter`` may do too (its
    permissions are a subset), and only an owner makes an owner. The second
    part is needed because an admin holds every permission an owner does,
    yet the contract lets admins manage users "but not owners". So:

    - owner: any role;
    - admin: admin, billing, developer, viewer;
    - billing: billing, viewer (a viewer reads invoices, which billing does too);
    - developer: developer only (a viewer reads invoices, which a developer may not);
    - viewer: viewer only.

    Apply it to both roles when changing an existing member (their current role
    and the new one) and to the member's role when removing them: that is how an
    admin is kept from demoting or removing an owner.
    """
    if role is TenantRole.OWNER and granter is not TenantRole.OWNER:
        return False
    return permissions_of(role) <= permissions_of(granter)
