"""``GET /openapi.json``: the OpenAPI document of every registered route (public)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.http import route
from chalicelib.openapi import service

bp = Blueprint(__name__)


@route(bp, "/openapi.json", auth=None, summary="The OpenAPI 3.1 document of this API", tags=("meta",))
def openapi_document() -> dict[str, Any]:
    return service.document()
