"""Who is calling: set by the authentication middleware, read by views.

A ``ContextVar`` rather than a global, because the local server is threaded.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.core.errors import Forbidden, Unauthorized


class Role(StrEnum):
    """Who holds a key: a customer (a tenant) or a platform operator.

    A ``StrEnum``: the JWT ``role`` claim, the session records and the SQL
    functions of migration 0011 carry these very strings.
    """

    CUSTOMER = "customer"
    OPERATOR = "operator"

    def customer_id(self, subject: uuid.UUID) -> uuid.UUID | None:
        """The tenant a holder of this role acts as: a customer is its own (``subject``); an operator has none."""
        return subject if self is Role.CUSTOMER else None


class TenantRole(StrEnum):
    """What a tenant's credential (an API key or a person's session) may do: the contract's role table.

    ``auth.permissions`` maps every tenant route to a permission and each
    permission to the roles that hold it.
    """

    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    DEVELOPER = "developer"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an API key's holder or a person (``user_id``), in one session.

    ``tenant_role`` is what a tenant's credential may do (read from PostgreSQL
    on every request; ``None`` for operators); ``amr`` how the session was
    authenticated (``("key",)``, ``("pwd",)`` or ``("pwd", "otp")``).
    """

    role: Role
    subject: uuid.UUID  # customer id or operator id
    key_id: uuid.UUID | None  # the API key; None for a person's session
    session_id: str  # JWT jti
    tenant_role: TenantRole | None = None
    user_id: uuid.UUID | None = None
    amr: tuple[str, ...] = ("key",)
    require_mfa: bool = False  # the tenant's setting, read with the session's state

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))  # "customer" is accepted and stored as Role.CUSTOMER
        if self.tenant_role is not None:
            object.__setattr__(self, "tenant_role", TenantRole(self.tenant_role))

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.role.customer_id(self.subject)

    @property
    def mfa_satisfied(self) -> bool:
        """Whether the tenant's MFA requirement lets this session through (keys are not people)."""
        return not self.require_mfa or self.user_id is None or "otp" in self.amr


_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    return _principal.set(principal)


def reset_principal(token: contextvars.Token[Principal | None]) -> None:
    _principal.reset(token)


def current_principal() -> Principal:
    principal = _principal.get()
    if principal is None:
        raise Unauthorized("Missing or invalid bearer token")
    return principal


def actor_for(principal: Principal | None) -> str:
    """How the audit trail names who acted: ``customer:<id>/key:<id>``, ``customer:<id>/user:<id>``,
    ``operator:<id>`` or ``system``."""
    if principal is None:
        return "system"
    if principal.role is Role.CUSTOMER:
        if principal.user_id is not None:
            return f"customer:{principal.subject}/user:{principal.user_id}"
        return f"customer:{principal.subject}/key:{principal.key_id}"
    return f"operator:{principal.subject}"


def current_actor() -> str:
    """The audit actor of this request: its principal, or ``system`` (a scheduled job, an unauthenticated path).

    ``core.db``'s transactions hand it to the database (``app.actor``), whose
    audit trigger writes it into every event of the transaction.
    """
    return actor_for(_principal.get())


def current_customer_id() -> uuid.UUID:
    """The caller's tenant; 403 for an operator calling a customer endpoint."""
    principal = current_principal()
    if principal.customer_id is None:
        raise Forbidden("This endpoint is for customer credentials")
    return principal.customer_id


def set_request_id(request_id: str) -> contextvars.Token[str | None]:
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token[str | None]) -> None:
    _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()
