"""The authentication guard: runs before every route that is not public.

Registered with :func:`chalicelib.core.http.add_guard` at
``AUTHENTICATION_ORDER``; it verifies the bearer token and its live state
(:func:`authorization.authorize`), sets the principal for the request and adds the
tenant to every log line.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth import authorization
from chalicelib.core import context, http
from chalicelib.core.observability import logger


def authentication_guard(request: Any, spec: http.RouteSpec) -> None:
    if spec.auth is None:
        return
    principal = authorization.authorize(request.headers.get("authorization"))
    context.set_principal(principal)
    tenant = str(principal.customer_id) if principal.customer_id is not None else None
    logger.thread_safe_append_keys(tenant_id=tenant, role=principal.role)  # removed by the middleware


def register() -> None:
    http.add_guard(authentication_guard, order=http.AUTHENTICATION_ORDER)
