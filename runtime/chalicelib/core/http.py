"""The view layer's one entry point: :func:`route`.

Every route in the application is registered through ``route``, which

1. runs the registered *guards* (authentication, then rate limiting) — a
   route declared with ``auth="customer"``/``"operator"``/``"any"`` fails
   closed with 401 if no guard established a principal;
2. parses and validates the JSON body and the query string against the
   route's Pydantic models (malformed → 400; semantic checks are the
   services' job and raise 422);
3. calls the view with ``body=``/``query=`` when declared, and serializes what
   it returns through the route's response model (:func:`serialize`): one
   shape per resource, whatever the view built it from;
4. translates any :class:`DomainError` into Chalice's native error shape;
5. retries the guards, and separately the view, once on a fresh connection
   when the database connection is lost before anything was committed
   (:func:`chalicelib.core.db.retry_once_if_lost`), and answers ``503`` with
   ``Retry-After`` when that is not enough. A lost connection is never a 500.

It also records a :class:`RouteSpec` per route in :data:`REGISTRY`, from
which the OpenAPI document is generated: one source of truth for shapes.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.core import aws, context, db
from chalicelib.core.errors import (
    BadRequest,
    DomainError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
    to_response,
)
from chalicelib.core.observability import dependency_degraded
from chalicelib.core.text import is_storable

Auth = Literal["customer", "operator", "any"] | None
Guard = Callable[[Any, "RouteSpec"], None]

# A lost database connection that a retry could not save: come back in a second (a failover
# takes longer, and the client's next 503 says so again).
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    auth: Auth
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    summary: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    errors: tuple[int, ...] = field(default_factory=tuple)
    # What a success carries: JSON (the response model), or a document the view returns as a
    # chalice ``Response`` (e.g. ``application/pdf``, binary: see ``app.api.binary_types``).
    media_type: str = "application/json"


REGISTRY: list[RouteSpec] = []
_GUARDS: list[tuple[int, Guard]] = []

# Guard order: authentication establishes the principal, the role table (auth.permission_guard)
# judges it, rate limiting counts it.
AUTHENTICATION_ORDER = 10
PERMISSION_ORDER = 15
RATE_LIMIT_ORDER = 20


def add_guard(guard: Guard, *, order: int) -> None:
    """Register a guard run before every view; lower ``order`` runs first."""
    if all(existing is not guard for _, existing in _GUARDS):
        _GUARDS.append((order, guard))
        _GUARDS.sort(key=lambda item: item[0])


def route(
    bp: Blueprint,
    path: str,
    *,
    method: str = "GET",
    auth: Auth,
    status: int = 200,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    summary: str = "",
    tags: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
    exact_decimals: bool = False,
    media_type: str = "application/json",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``view`` for ``method path`` on ``bp`` (see module docstring).

    ``exact_decimals=True`` parses JSON numbers with a fraction or exponent as
    ``Decimal`` (never float) before validation: for bodies carrying quantities.
    ``media_type`` other than JSON: the view returns a ``Response`` with that content
    type; the OpenAPI document describes the success as that type (errors stay JSON).
    """
    spec = RouteSpec(
        path=path,
        method=method.upper(),
        auth=auth,
        status=status,
        body=body,
        query=query,
        response=response,
        summary=summary,
        tags=tags,
        errors=errors,
        media_type=media_type,
    )

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            request = bp.current_request
            principal_token = context.set_principal(None)
            try:
                # Guards and view are retried separately, so a retried view is not counted twice
                # by the rate limiter.
                db.retry_once_if_lost(lambda: _run_guards(request, spec), what="guards")
                _enforce_auth(spec)
                if body is not None:
                    document = json_body(request, exact_decimals=exact_decimals)
                    raw = request.raw_body
                    kwargs["body"] = parse_model(body, document, raw=raw if isinstance(raw, bytes) else None)
                if query is not None:
                    kwargs["query"] = parse_model(query, query_params(request))
                result = db.retry_once_if_lost(lambda: view(*args, **kwargs), what=f"{spec.method} {spec.path}")
            except DomainError as error:
                return to_response(error)
            except aws.DependencyUnavailable as error:
                # A path that cannot do without DynamoDB or SES (say, checking a refresh token's
                # single use): come back when the breaker lets calls through again.
                dependency_degraded(error.service, "answered_503", error)
                return to_response(
                    ServiceUnavailable(
                        f"A dependency ({error.service}) is unavailable; retry the request",
                        headers={"Retry-After": str(math.ceil(aws.COOLDOWN_S))},
                    )
                )
            except db.LOST as error:
                # Still no database after a retry on a fresh connection (or a COMMIT whose outcome is
                # unknown): the client may retry; nothing acknowledged was lost.
                dependency_degraded("database", "answered_503", error)
                return to_response(
                    ServiceUnavailable(
                        "The database is unavailable; retry the request", headers={"Retry-After": str(RETRY_AFTER_S)}
                    )
                )
            finally:
                context.reset_principal(principal_token)
            if response is not None and not isinstance(result, Response):
                result = serialize(response, result)
            if status != 200 and not isinstance(result, Response):
                return Response(body=result if result is not None else "", status_code=status)
            return result

        bp.route(path, methods=[spec.method], content_types=["application/json"])(wrapped)
        REGISTRY.append(spec)
        return wrapped

    return decorator


def serialize(model: type[BaseModel], result: Any) -> Any:
    """``result`` as the JSON document ``model`` describes (a ``Response`` is the view's own answer).

    A view returns an instance of its response model, or plain data (a row, a
    dict, an object with the fields as attributes) that is validated with it:
    fields the model does not declare are never shown. A mismatch is a bug in
    the view, not the client's fault: it is raised (a 500), never hidden.
    """
    if isinstance(result, Response):
        return result
    if not isinstance(result, model):
        result = model.model_validate(result, from_attributes=True)
    return result.model_dump(mode="json")


def _run_guards(request: Any, spec: RouteSpec) -> None:
    for _, guard in _GUARDS:
        guard(request, spec)


def _enforce_auth(spec: RouteSpec) -> None:
    if spec.auth is None:
        return
    principal = context.current_principal()  # 401 when no guard authenticated the caller
    if spec.auth != "any" and principal.role != spec.auth:
        raise Forbidden(f"This endpoint requires {spec.auth} credentials")


def parse_model(model: type[BaseModel], data: Any, *, raw: bytes | None = None) -> BaseModel:
    """Validate ``data`` against ``model``; any mismatch is a 400 naming the first bad field.

    ``raw``, the JSON text ``data`` was parsed from, lets the unstorable-string check skip
    its walk of the document when the text shows it cannot hold one (:func:`_may_be_unstorable`).
    """
    if raw is None or _may_be_unstorable(raw):
        _reject_unstorable(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise BadRequest(f"{where}: {first.get('msg', 'invalid value')}") from exc


# A surrogate code point (U+D800-U+DFFF) written in UTF-8 bytes: json.loads decodes bytes with
# "surrogatepass", so these reach a parsed string as they are.
_SURROGATE_UTF8 = re.compile(rb"\xed[\xa0-\xbf]")


def _may_be_unstorable(raw: bytes) -> bool:
    """False when no string parsed from the JSON text ``raw`` can hold NUL or a lone surrogate.

    In JSON text a string can only get either from a ``\\u`` escape (a raw control
    character inside a string is invalid JSON, and the parser is strict) or, for a
    surrogate, from its UTF-8 bytes. So a UTF-8 body with neither needs no walk of the
    parsed document: one scan of the bytes instead of a Python step per value (a batch of
    1000 events: ~7 ms saved). Another encoding (UTF-16/32, which ``json.loads`` detects)
    is always walked.
    """
    if json.detect_encoding(raw) not in ("utf-8", "utf-8-sig"):
        return True
    return b"\\u" in raw or _SURROGATE_UTF8.search(raw) is not None


def _reject_unstorable(data: Any) -> None:
    """400 for strings PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates).

    Both pass JSON parsing and Pydantic's ``str``, then fail in the driver as a 500.
    Iterative, so a deeply nested document cannot exhaust the stack.
    """
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not is_storable(value):
                raise BadRequest("Strings may not contain NUL characters or unpaired surrogates")
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def json_body(request: Any, *, exact_decimals: bool = False) -> Any:
    """The request body parsed as JSON (an absent body is ``{}``); malformed JSON is 400."""
    raw = request.raw_body
    if not raw:
        return {}
    try:
        if exact_decimals:
            return json.loads(raw, parse_float=Decimal, parse_constant=Decimal)
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest("Request body is not valid JSON") from exc


def query_params(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def path_uuid(value: str) -> uuid.UUID:
    """A UUID from a path segment; a malformed one is 404 (it names nothing)."""
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError) as exc:
        raise NotFound("Not found") from exc


__all__ = [
    "REGISTRY",
    "RouteSpec",
    "Unauthorized",
    "add_guard",
    "json_body",
    "parse_model",
    "path_uuid",
    "query_params",
    "route",
    "serialize",
]
