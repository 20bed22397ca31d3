"""The permission guard: the contract's role table, applied before any view of a tenant route runs.

Registered with :func:`chalicelib.core.http.add_guard` at ``PERMISSION_ORDER``
(after authentication has set the principal, before rate limiting counts the
call). For a tenant's credential on a tenant route (``auth="customer"`` or
``"any"``) it looks the route up in :data:`auth.permissions.ROUTES` and
refuses with ``403`` when

* the route has no rule (fail closed: a new route must be added to the table),
* the credential's tenant role (read from PostgreSQL on this request) does not
  hold the route's permission, or
* the tenant requires MFA and this is a person's session without a second
  factor, on anything but enrolling in MFA, reading oneself or logging out.

Views never decide the route-level rule; they still decide rules that depend
on the resource (an admin may not change an owner: ``permissions.may_grant``).
Operators are not tenants: operator routes are guarded by their ``auth`` alone.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth import permissions
from chalicelib.core import context, http
from chalicelib.core.context import Role
from chalicelib.core.errors import Forbidden


def permission_guard(request: Any, spec: http.RouteSpec) -> None:
    if spec.auth not in ("customer", "any"):
        return
    principal = context.current_principal()
    if principal.role is not Role.CUSTOMER:
        return  # an operator on an "any" route; on a customer route core.http answers 403
    permission = permissions.permission_for(spec.method, spec.path)
    if permission is None:
        raise Forbidden("No permission rule covers this route")
    if principal.tenant_role is None or not permissions.allows(principal.tenant_role, permission):
        raise Forbidden(f"Your role ({principal.tenant_role or 'none'}) may not do this ({permission})")
    if not principal.mfa_satisfied and (spec.method, spec.path) not in permissions.MFA_EXEMPT:
        raise Forbidden(
            "Your organization requires multi-factor authentication: enrol with POST /users/me/mfa, "
            "then log in again with a code"
        )


def register() -> None:
    http.add_guard(permission_guard, order=http.PERMISSION_ORDER)
