"""``GET /health`` response (for the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from chalicelib.core.models import ResponseModel

Check = Literal["ok", "down"]


class HealthStatus(ResponseModel):
    status: Literal["ok", "degraded"]
    database: Check
    cache: Check
