"""``/admin/operator-keys``: create, list, revoke (operator credentials only)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_principal
from chalicelib.core.http import path_uuid, route
from chalicelib.operator_keys import service
from chalicelib.operator_keys.models import (
    CreateOperatorKeyBody,
    NewOperatorKeyResponse,
    OperatorKeyListQuery,
    OperatorKeyPage,
)

bp = Blueprint(__name__)


@route(
    bp,
    "/admin/operator-keys",
    method="POST",
    auth="operator",
    status=201,
    body=CreateOperatorKeyBody,
    response=NewOperatorKeyResponse,
    summary="Create an operator key for the caller (the full key is shown only in this response)",
    tags=("admin",),
    errors=(400, 401, 403, 409, 422),
)
def create_key(body: CreateOperatorKeyBody) -> NewOperatorKeyResponse:
    return service.create(current_principal().subject, body)


@route(
    bp,
    "/admin/operator-keys",
    auth="operator",
    query=OperatorKeyListQuery,
    response=OperatorKeyPage,
    summary="List every operator key (never its secret)",
    tags=("admin",),
    errors=(400, 401, 403),
)
def list_keys(query: OperatorKeyListQuery) -> OperatorKeyPage:
    return service.list_keys(query)


@route(
    bp,
    "/admin/operator-keys/{key_id}",
    method="DELETE",
    auth="operator",
    status=204,
    summary="Revoke an operator key and every session minted from it (the caller's own key too)",
    tags=("admin",),
    errors=(401, 403, 404),
)
def revoke_key(key_id: str) -> None:
    service.revoke(path_uuid(key_id))
