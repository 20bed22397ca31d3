"""View-layer helpers shared by every blueprint: route registration with error
translation, JSON body and query parsing, UUID path parameters, pagination."""
from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response

from chalicelib.core.errors import BadRequest, DomainError, NotFound, to_response

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def route(bp: Blueprint, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` on ``bp`` like ``bp.route`` and translate domain errors.

    Every route in the application is registered through this decorator, so a
    ``DomainError`` raised anywhere below a view becomes its 4xx response.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kw: Any) -> Any:
            try:
                return view(*args, **kw)
            except DomainError as error:
                return to_response(error)

        bp.route(path, **kwargs)(wrapped)
        return wrapped

    return decorator


def json_body(request: Any, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object; 400 when it is missing, malformed or not an object."""
    raw = request.raw_body
    if not raw:
        if required:
            raise BadRequest("A JSON request body is required")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


def query_params(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def path_uuid(value: str) -> uuid.UUID:
    """A UUID from a path segment; a malformed one is 404 (it names nothing)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound("Not found") from exc


def page_limit(params: dict[str, str]) -> int:
    """``limit`` query parameter: 1-100, default 50, anything else is 400."""
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadRequest("limit must be an integer between 1 and 100") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("limit must be an integer between 1 and 100")
    return limit


def no_content() -> Response:
    return Response(body="", status_code=204)


def created(body: dict[str, Any]) -> Response:
    return Response(body=body, status_code=201)
