"""The rate-limit guard, run by ``core.http.route`` after authentication.

Only customers are limited: public routes and operators pass straight through.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core import context
from chalicelib.core.errors import Unauthorized
from chalicelib.core.http import RouteSpec
from chalicelib.ratelimit import service


def rate_limit_guard(request: Any, spec: RouteSpec) -> None:
    if spec.auth is None:
        return
    try:
        principal = context.current_principal()
    except Unauthorized:  # not authenticated: the route decorator answers 401
        return
    if principal.customer_id is not None:  # a customer (an operator has no tenant)
        service.enforce(principal.customer_id)
