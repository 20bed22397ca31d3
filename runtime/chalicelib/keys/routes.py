"""``/api-keys``: create, list, revoke, rotate (customer credentials only)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id, current_principal
from chalicelib.core.http import path_uuid, route
from chalicelib.keys import service
from chalicelib.keys.models import ApiKeyPage, CreateKeyBody, KeyListQuery, NewApiKeyResponse, RotateKeyBody

bp = Blueprint(__name__)


@route(
    bp,
    "/api-keys",
    method="POST",
    auth="customer",
    status=201,
    body=CreateKeyBody,
    response=NewApiKeyResponse,
    summary="Create an API key (the full key is shown only in this response)",
    tags=("api-keys",),
    errors=(400, 401, 403, 409, 422),
)
def create_key(body: CreateKeyBody) -> NewApiKeyResponse:
    return service.create(current_customer_id(), body, current_principal().tenant_role)


@route(
    bp,
    "/api-keys",
    auth="customer",
    query=KeyListQuery,
    response=ApiKeyPage,
    summary="List API keys",
    tags=("api-keys",),
    errors=(400, 401, 403),
)
def list_keys(query: KeyListQuery) -> ApiKeyPage:
    return service.list_keys(current_customer_id(), query)


@route(
    bp,
    "/api-keys/{key_id}",
    method="DELETE",
    auth="customer",
    status=204,
    summary="Revoke an API key and every session minted from it",
    tags=("api-keys",),
    errors=(401, 403, 404),
)
def revoke_key(key_id: str) -> None:
    service.revoke(current_customer_id(), path_uuid(key_id), current_principal().tenant_role)


@route(
    bp,
    "/api-keys/{key_id}/rotate",
    method="POST",
    auth="customer",
    status=201,
    body=RotateKeyBody,
    response=NewApiKeyResponse,
    summary="Replace an API key; the old one works until the overlap ends",
    tags=("api-keys",),
    errors=(400, 401, 403, 404, 409),
)
def rotate_key(key_id: str, body: RotateKeyBody) -> NewApiKeyResponse:
    return service.rotate(
        current_customer_id(), path_uuid(key_id), body.overlap_seconds, current_principal().tenant_role
    )
