"""CORS for exactly one origin: the customer portal's.

The portal (a browser app on its own origin) calls the API with an
``Authorization`` header and JSON bodies, so every call is preceded by a
preflight ``OPTIONS``. API Gateway has no ``OPTIONS`` method unless the app
declares one, and Chalice's own ``cors=`` bakes the allowed origin into the
API definition when it is packaged, while the portal's origin (a CloudFront
domain) is known only at deploy. So:

* :func:`register` declares an ``OPTIONS`` route on every path the app
  serves (call it after every blueprint). Those routes bypass
  :func:`chalicelib.core.http.route`: no guard runs (a preflight carries no
  credentials and is never rate limited), and they are not in
  :data:`~chalicelib.core.http.REGISTRY`, so neither the OpenAPI document
  nor the role table knows them.
* An ``http`` middleware adds ``Access-Control-Allow-Origin`` (and the
  headers the portal may read) to every response, errors included, when the
  request's ``Origin`` is the portal's.

The portal's origin is read per request: the API stage's variable
``PORTAL_ORIGIN`` in the cloud, else the environment variable of that name
(:attr:`Settings.portal_origin`). Neither set: no CORS header at all. No
credentials mode: the API authenticates with bearer tokens, not cookies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.core.contract import Env
from chalicelib.core.settings import get_settings

# What the portal sends besides the CORS-safelisted headers.
ALLOWED_HEADERS = ("authorization", "content-type", "idempotency-key", "x-api-key", "x-request-id")
# What the portal may read besides the CORS-safelisted response headers.
EXPOSED_HEADERS = ("Retry-After", "Content-Disposition", "X-Request-Id")
# How long a browser may reuse a preflight (Chromium caps it at 7200 s).
MAX_AGE_S = 7200


def portal_origin(request: Request | None) -> str | None:
    """The one origin CORS is answered for: the stage variable, else the environment; ``None`` if neither."""
    stage_vars = (request.stage_vars if request is not None else None) or {}
    configured = (stage_vars.get(Env.PORTAL_ORIGIN) or "").rstrip("/")
    return configured or get_settings().portal_origin


def cors_headers(request: Request | None) -> dict[str, str]:
    """The CORS headers for a response to ``request`` (empty when no portal origin is configured).

    ``Vary: Origin`` whenever a portal origin is configured: the answer depends
    on the ``Origin`` header even when it is refused.
    """
    allowed = portal_origin(request)
    if allowed is None:
        return {}
    headers = {"Vary": "Origin"}
    origin = _header(request.headers if request is not None else None, "origin")
    if origin == allowed:
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
    return headers


def register(app: Chalice) -> None:
    """Declare ``OPTIONS`` on every path registered so far and add the CORS middleware.

    Call once, after every blueprint is registered: a path added later would
    have no preflight (``tests/api/test_cors.py`` checks every path has one).
    """
    for path in sorted(app.routes):
        if "OPTIONS" in app.routes[path]:
            continue
        methods = ", ".join(sorted({*app.routes[path], "OPTIONS"}))
        app.route(path, methods=["OPTIONS"])(_preflight_view(app, methods))

    @app.middleware("http")
    def cors_middleware(event: Request, get_response: Callable[[Request], Response]) -> Response:
        response = get_response(event)
        for name, value in cors_headers(event).items():
            if name == "Vary":
                response.headers[name] = _vary(response.headers.get(name), value)
            else:
                response.headers.setdefault(name, value)
        return response


def _preflight_view(app: Chalice, methods: str) -> Callable[..., Response]:
    """A preflight's answer: ``204``; the methods and headers only when the origin is the portal's."""

    def preflight(**_path_parameters: str) -> Response:
        request = app.current_request
        headers: dict[str, str | list[str]] = {}
        if "Access-Control-Allow-Origin" in cors_headers(request):
            headers = {
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE_S),
            }
        return Response(body="", status_code=204, headers=headers)

    return preflight


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    value = headers.get(name) if headers is not None else None
    return value if isinstance(value, str) else None


def _vary(existing: str | list[str] | None, value: str) -> str:
    """``value`` added to a ``Vary`` header (one string or Chalice's multi-value list), once."""
    joined = ",".join(existing) if isinstance(existing, list) else existing or ""
    present = [part.strip() for part in joined.split(",") if part.strip()]
    if any(part.lower() == value.lower() or part == "*" for part in present):
        return ", ".join(present)
    return ", ".join([*present, value])
