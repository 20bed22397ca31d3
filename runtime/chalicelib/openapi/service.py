"""The served document: built once, rebuilt only if routes were registered since."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.core.http import REGISTRY
from chalicelib.openapi.generator import build_document

_lock = threading.Lock()
_cached: tuple[int, dict[str, Any]] | None = None


def document() -> dict[str, Any]:
    """The OpenAPI document for every route registered so far (cached per registry size)."""
    global _cached
    with _lock:
        if _cached is None or _cached[0] != len(REGISTRY):
            _cached = (len(REGISTRY), build_document(REGISTRY))
        return _cached[1]
