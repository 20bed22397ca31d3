"""DynamoDB for authentication's two tables: typed attributes, the table names, the client, outages.

The ``cache`` table holds the verification cache and the failed-attempt
counters (:mod:`chalicelib.auth.verification_cache`,
:mod:`chalicelib.auth.throttle`); the ``sessions`` table the verification
cache's markers. (Sessions and refresh tokens themselves live in PostgreSQL
since migration 0044; the table keeps its name.)

PostgreSQL, not DynamoDB, decides whether a key, its holder or a session is
live. So when DynamoDB cannot serve (``core.aws.DependencyUnavailable``, or an
error :func:`core.aws.is_outage` counts as an outage) an operation degrades
(:func:`degrades_to`: the documented fallback, logged and counted as
``DependencyDegraded``). Each module's docstring lists its fallbacks;
``docs/RELIABILITY.md`` has the table.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core import aws
from chalicelib.core.observability import dependency_degraded
from chalicelib.core.settings import get_settings

T = TypeVar("T")


def s(value: Any) -> dict[str, str]:
    """A string attribute."""
    return {"S": str(value)}


def n(value: int) -> dict[str, str]:
    """A number attribute (integers only here: epoch seconds and counters)."""
    return {"N": str(int(value))}


def plain(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item's typed attributes as Python values: numbers as ``int``, string sets as ``set``."""
    if item is None:
        return None
    out: dict[str, Any] = {}
    for name, typed in item.items():
        ((kind, value),) = typed.items()
        if kind == "N":
            out[name] = int(value)
        elif kind == "SS":
            out[name] = set(value)
        else:
            out[name] = value
    return out


def cache_table() -> str:
    return get_settings().cache_table


def sessions_table() -> str:
    return get_settings().sessions_table


def client() -> Any:
    return aws.client("dynamodb")


def consistent_get(table: str, pk: str) -> dict[str, Any] | None:
    """The item with partition key ``pk``, read consistently, as plain values; ``None`` when there is none."""
    return plain(client().get_item(TableName=table, Key={"pk": s(pk)}, ConsistentRead=True).get("Item"))


def degrades_to(fallback: str, default: Callable[[], Any]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """When DynamoDB cannot serve, log and count ``fallback`` and return ``default()`` (module docstring).

    Errors that are not an outage (a condition that failed, a bad request) go through unchanged.
    """

    def decorator(function: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(function)
        def wrapped(*args: Any, **kwargs: Any) -> T:
            try:
                return function(*args, **kwargs)
            except (aws.DependencyUnavailable, BotoCoreError, ClientError) as exc:
                if not aws.is_outage(exc):
                    raise
                dependency_degraded("dynamodb", fallback, exc)
                result: T = default()
                return result

        return wrapped

    return decorator
