"""The OpenAPI 3.1 document, generated from :data:`chalicelib.core.http.REGISTRY`.

Every route is registered through :func:`chalicelib.core.http.route`, which
records a :class:`RouteSpec` with its Pydantic request and response models;
the document is built from those specs and nothing else, so the validation a
request meets and the document a client reads cannot drift apart.

OpenAPI 3.1 because its schema dialect is JSON Schema 2020-12, which is what
Pydantic v2 emits (``anyOf`` with ``null``, ``const``): no lossy conversion.

What a spec does not say is derived from how ``route`` behaves:

* ``auth`` set → bearer security, ``401``/``403``; ``"customer"``/``"any"`` →
  ``429`` with ``Retry-After`` (customers' rate limits; operators are exempt);
* a body or query model → ``400`` (validation); a body → ``415`` (Chalice
  refuses other content types);
* a path parameter → ``404`` (a malformed or foreign id names nothing); a
  parameter called ``id`` or ``*_id`` is a UUID (API_REFERENCE: IDs are UUIDs);
* a success of another ``media_type`` (a PDF) is a binary string of that type;
* every response carries ``X-Request-Id``; errors have Chalice's
  ``{"Code", "Message"}`` shape (a ``503`` may instead carry the route's own
  response model: a dependency check reports what is down).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.core.http import REGISTRY, RouteSpec

TITLE = "SaaS platform API"
VERSION = "1.0.0"
BEARER = "bearerAuth"
_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"{([^}/]+)}")
JSON = "application/json"

# A model's JSON Schema for one use: "validation" (a request body or query), "serialization" (a response).
SchemaKey = tuple[type[BaseModel], JsonSchemaMode]

ERROR_MODEL = "ChaliceError"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Chalice's native error shape.",
    "required": ["Code", "Message"],
    "properties": {"Code": {"type": "string", "examples": ["BadRequestError"]}, "Message": {"type": "string"}},
}
_HEADERS: dict[str, Any] = {
    "RequestId": {
        "description": "Echo of a well-formed incoming X-Request-Id, else a generated one; in every log line.",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
}


def build_document(specs: Iterable[RouteSpec] | None = None) -> dict[str, Any]:
    """The OpenAPI document for ``specs`` (default: every registered route)."""
    specs = list(REGISTRY if specs is None else specs)
    schema_for, definitions = _model_schemas(specs)
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schema_for, definitions)
    error_statuses = sorted(
        {
            int(code)
            for item in paths.values()
            for operation in item.values()
            for code, response in operation["responses"].items()
            if "$ref" in response
        }
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Multi-tenant B2B SaaS backend. Authenticate with POST /auth/authenticate, "
            "then send `Authorization: Bearer <token>`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**definitions, ERROR_MODEL: ERROR_SCHEMA},
            "responses": {_response_name(status): _error_response(status) for status in error_statuses},
            "headers": _HEADERS,
            "securitySchemes": {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _model_schemas(specs: list[RouteSpec]) -> tuple[dict[SchemaKey, dict[str, Any]], dict[str, Any]]:
    """One JSON Schema per (model, mode), with shared definitions hoisted into components.

    Bodies and responses become named components (Pydantic resolves name
    clashes between areas' models itself); a query model is inlined as
    parameters, so only the definitions it refers to are kept.
    """
    wanted: dict[SchemaKey, None] = {}
    for spec in specs:
        if spec.body is not None:
            wanted[(spec.body, "validation")] = None
        if spec.response is not None:
            wanted[(spec.response, "serialization")] = None
    schema_for: dict[SchemaKey, dict[str, Any]] = {}
    definitions: dict[str, Any] = {}
    if wanted:
        mapping, top = models_json_schema(list(wanted), ref_template=_REF)
        schema_for, definitions = {key: mapping[key] for key in wanted}, dict(top.get("$defs", {}))
    for spec in specs:
        if spec.query is not None and (spec.query, "validation") not in schema_for:
            schema = spec.query.model_json_schema(ref_template=_REF)
            for name, definition in schema.pop("$defs", {}).items():
                if definitions.setdefault(name, definition) != definition:
                    raise ValueError(f"two different models are called {name}")
            schema_for[(spec.query, "validation")] = schema
    if ERROR_MODEL in definitions:
        raise ValueError(f"a request/response model may not be called {ERROR_MODEL}")
    return schema_for, definitions


def _operation(
    spec: RouteSpec, schema_for: dict[SchemaKey, dict[str, Any]], definitions: dict[str, Any]
) -> dict[str, Any]:
    path_params = _PATH_PARAM.findall(spec.path)
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec),
        "summary": spec.summary or f"{spec.method} {spec.path}",
        "tags": list(spec.tags) or ["default"],
        "security": [{BEARER: []}] if spec.auth is not None else [],
    }
    if spec.auth is not None:
        operation["x-auth"] = spec.auth
    parameters = [_path_parameter(name) for name in path_params]
    if spec.query is not None:
        parameters += _query_parameters(_resolve(schema_for[(spec.query, "validation")], definitions))
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        # ``route`` reads an absent body as ``{}``: it is required exactly when ``{}`` is invalid.
        operation["requestBody"] = {
            "required": _has_required_fields(spec.body),
            "content": {"application/json": {"schema": schema_for[(spec.body, "validation")]}},
        }
    operation["responses"] = _responses(spec, schema_for, has_path_params=bool(path_params))
    return operation


def _has_required_fields(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def _operation_id(spec: RouteSpec) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", spec.path.replace("{", "by_").replace("}", "")).strip("_")
    return f"{spec.method.lower()}_{words or 'root'}"


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if name == "id" or name.endswith("_id"):
        schema = {"type": "string", "format": "uuid"}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = definitions[ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _query_parameters(model_schema: dict[str, Any]) -> list[dict[str, Any]]:
    """A query model's fields as ``in: query`` parameters.

    A query string cannot carry JSON ``null``: an optional parameter is simply
    left out, so the ``null`` branch Pydantic adds to ``X | None`` is dropped.
    """
    required = set(model_schema.get("required", ()))
    parameters = []
    for name, prop in model_schema.get("properties", {}).items():
        schema = {key: value for key, value in prop.items() if key not in ("title", "default")}
        variants = schema.pop("anyOf", None)
        if variants is not None:
            variants = [variant for variant in variants if variant.get("type") != "null"]
            schema = {**schema, **variants[0]} if len(variants) == 1 else {**schema, "anyOf": variants}
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    return parameters


def _responses(
    spec: RouteSpec, schema_for: dict[SchemaKey, dict[str, Any]], *, has_path_params: bool
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _reason(spec.status), "headers": _headers(spec.status)}
    if spec.status != 204 and spec.media_type != JSON:
        # A document (e.g. a PDF), binary: what a client saves, not what it parses.
        success["content"] = {spec.media_type: {"schema": {"type": "string", "format": "binary"}}}
    elif spec.status != 204:
        schema = schema_for[(spec.response, "serialization")] if spec.response is not None else {"type": "object"}
        success["content"] = {JSON: {"schema": schema}}
    responses: dict[str, Any] = {str(spec.status): success}
    for status in sorted(_error_statuses(spec, has_path_params=has_path_params)):
        if status == 503 and spec.response is not None:
            # A dependency check answers 503 with its own report (GET /health).
            error = _error_response(status)
            error["content"]["application/json"]["schema"] = {
                "anyOf": [{"$ref": _REF.format(model=ERROR_MODEL)}, schema_for[(spec.response, "serialization")]]
            }
            responses[str(status)] = error
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{_response_name(status)}"}
    return responses


def _error_statuses(spec: RouteSpec, *, has_path_params: bool) -> set[int]:
    statuses = set(spec.errors)
    if spec.body is not None or spec.query is not None:
        statuses.add(400)
    if spec.body is not None:
        statuses.add(415)
    if spec.auth is not None:
        statuses |= {401, 403}
    if spec.auth in ("customer", "any"):
        statuses.add(429)
    if has_path_params:
        statuses.add(404)
    statuses.discard(spec.status)
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": _reason(status),
        "headers": _headers(status),
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=ERROR_MODEL)}}},
    }


def _headers(status: int) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
    if status == 429:
        headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    return headers


def _response_name(status: int) -> str:
    return f"Error{status}"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
