"""The served document: built once, rebuilt only if routes were registered since."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.core.cache import LocalCache
from chalicelib.core.http import REGISTRY
from chalicelib.openapi.generator import build_document

# Registry size -> its document: the latest one only, kept until a route is registered.
_documents: LocalCache[int, dict[str, Any]] = LocalCache(max_entries=1)
_building = threading.Lock()


def document() -> dict[str, Any]:
    """The OpenAPI document for every route registered so far (cached per registry size)."""
    with _building:  # one build at a time: concurrent first requests wait for it rather than repeat it
        return _documents.get_or_load(len(REGISTRY), lambda _: build_document(REGISTRY))
