"""The fuzzing gate's order, for its two pytest-xdist workers (``make test-fuzz``: ``-n 2 --dist worksteal``).

The customer pass is most of the gate (every public and customer operation,
through every phase). A worker always holds one test queued behind the one it
runs, and that queued test cannot be stolen by the idle worker; so the customer
pass goes first and the shortest run (logout) second, behind it, and the other
worker takes the rest. Only the order changes: every test still runs, serially
too, where the order does not matter (each run makes its own data).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# Longest first, then the one to queue behind it; the others keep the file's order.
FIRST = ("test_as_a_customer", "test_logout_with_a_throwaway_customer")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Reorder this directory's tests among the places they hold (a wider run's other tests stay put)."""
    places = [i for i, item in enumerate(items) if item.path.parent == HERE]
    ordered = sorted((items[i] for i in places), key=lambda item: FIRST.index(item.name) if item.name in FIRST else 2)
    for place, item in zip(places, ordered, strict=True):
        items[place] = item
