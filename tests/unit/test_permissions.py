"""The permission table is the contract's table, and the granting rule keeps every role at or below its own."""

from __future__ import annotations

import pytest

from chalicelib.auth.permissions import (
    ALLOWED,
    MFA_EXEMPT,
    ROUTES,
    Permission,
    allows,
    may_grant,
    permission_for,
)
from chalicelib.core.context import TenantRole

ROLES = ("owner", "admin", "billing", "developer", "viewer")
# API_REFERENCE.md, "Tenant roles", copied row by row (✓ = 1); SELF is every role's.
CONTRACT = {
    "read": (1, 1, 1, 1, 1),
    "send_usage": (1, 1, 0, 1, 0),
    "read_invoices": (1, 1, 1, 0, 1),
    "manage_payment_method": (1, 1, 1, 0, 0),
    "manage_api_keys": (1, 1, 0, 1, 0),
    "write_tickets": (1, 1, 1, 1, 0),
    "manage_webhooks": (1, 1, 0, 1, 0),
    "read_audit": (1, 1, 0, 0, 0),
    "manage_users": (1, 1, 0, 0, 0),
    "self": (1, 1, 1, 1, 1),
}


def test_allowed_is_the_contract_table():
    assert {permission.value for permission in ALLOWED} == set(CONTRACT) == {p.value for p in Permission}
    assert [role.value for role in TenantRole] == list(ROLES)
    for permission, marks in CONTRACT.items():
        expected = {TenantRole(role) for role, mark in zip(ROLES, marks, strict=True) if mark}
        assert ALLOWED[Permission(permission)] == expected, permission
        for role in TenantRole:
            assert allows(role, Permission(permission)) is (role in expected)


def test_every_route_names_a_permission_and_a_registered_shape():
    assert ROUTES
    for (method, path), permission in ROUTES.items():
        assert isinstance(permission, Permission)
        assert method in {"GET", "POST", "PATCH", "PUT", "DELETE"}
        assert path.startswith("/") and not path.startswith("/admin/")


def test_permission_for_looks_up_the_template():
    assert permission_for("GET", "/invoices/{invoice_id}") is Permission.READ_INVOICES
    assert permission_for("post", "/metrics") is Permission.SEND_USAGE
    assert permission_for("GET", "/users/me") is Permission.SELF
    assert permission_for("GET", "/admin/customers") is None
    assert permission_for("GET", "/invoices/123") is None  # a template, never a concrete path


def test_mfa_exempt_routes_are_self_routes_and_leaving_mfa_is_not_one():
    assert {
        ("POST", "/users/me/mfa"),
        ("POST", "/users/me/mfa/confirm"),
        ("POST", "/auth/logout"),
        ("GET", "/users/me"),
    } == MFA_EXEMPT
    for key in MFA_EXEMPT:
        assert ROUTES[key] is Permission.SELF
    assert ("DELETE", "/users/me/mfa") not in MFA_EXEMPT


GRANTABLE = {
    "owner": {"owner", "admin", "billing", "developer", "viewer"},
    "admin": {"admin", "billing", "developer", "viewer"},
    "billing": {"billing", "viewer"},
    "developer": {"developer"},
    "viewer": {"viewer"},
}


@pytest.mark.parametrize("granter", ROLES)
@pytest.mark.parametrize("role", ROLES)
def test_may_grant(granter, role):
    assert may_grant(TenantRole(granter), TenantRole(role)) is (role in GRANTABLE[granter])


def test_a_role_may_always_grant_itself_except_that_only_owners_make_owners():
    for role in TenantRole:
        assert may_grant(role, role)
    assert [role for role in TenantRole if may_grant(role, TenantRole.OWNER)] == [TenantRole.OWNER]
