"""The local stack exactly as ``make run`` starts it (``python -m devstack``), in its own process.

Its own temporary state directory and free ports (``devstack.spawn``), so it
never meets a developer's ``.local`` or another test's stack. Its output (the
request log) is printed at teardown, which pytest shows only for a failed test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.spawn import spawned_stack


@pytest.fixture(scope="module")
def local_stack() -> Iterator[dict[str, Any]]:
    """``stack.json`` of a fresh local stack (``api_url``, ``aws_endpoint_url``, the local credentials)."""
    with spawned_stack(prefix="saas-e2e-") as info:
        yield info
