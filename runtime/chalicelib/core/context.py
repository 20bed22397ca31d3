"""Who is calling: set by the authentication middleware, read by views.

A ``ContextVar`` rather than a global, because the local server is threaded.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass

from chalicelib.core.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    role: str  # "customer" or "operator"
    subject: uuid.UUID  # customer id or operator id
    key_id: uuid.UUID
    session_id: str  # JWT jti

    @property
    def customer_id(self) -> uuid.UUID | None:
        return self.subject if self.role == "customer" else None


_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def set_principal(principal: Principal | None) -> contextvars.Token:
    return _principal.set(principal)


def reset_principal(token: contextvars.Token) -> None:
    _principal.reset(token)


def current_principal() -> Principal:
    principal = _principal.get()
    if principal is None:
        raise Unauthorized("Missing or invalid bearer token")
    return principal


def actor_for(principal: Principal | None) -> str:
    """How the audit trail names who acted: ``customer:<id>/key:<id>``, ``operator:<id>`` or ``system``."""
    if principal is None:
        return "system"
    if principal.role == "customer":
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
    if principal.role != "customer" or principal.customer_id is None:
        raise Forbidden("This endpoint is for customer credentials")
    return principal.customer_id


def set_request_id(request_id: str) -> contextvars.Token:
    return _request_id.set(request_id)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()
