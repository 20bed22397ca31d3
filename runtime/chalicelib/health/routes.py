"""``GET /health``: unauthenticated liveness of the database and the cache."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.core.http import route
from chalicelib.health import service
from chalicelib.health.models import HealthStatus

bp = Blueprint(__name__)


@route(
    bp,
    "/health",
    auth=None,
    response=HealthStatus,
    summary="Liveness of the database and the cache",
    tags=("health",),
    errors=(503,),
)
def health() -> Response:
    checks = service.check_dependencies()
    healthy = all(value == "ok" for value in checks.values())
    return Response(body={"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503)
