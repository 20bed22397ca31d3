"""Local credentials written to ``.local/stack.json``: an operator key and a demo customer's key.

The authentication issue fills these in; until then they are ``None``.
"""
from __future__ import annotations


def local_credentials() -> dict[str, str | None]:
    return {"operator_api_key": None, "demo_customer_api_key": None}
