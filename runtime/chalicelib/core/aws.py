"""boto3 clients and resources, built once per process.

``AWS_ENDPOINT_URL`` points every client at the local endpoint (moto) on a
laptop or in CI; in the cloud it is unset and boto3 uses the real services.

DynamoDB, SES and KMS clients are behind a *circuit breaker*: when a call fails
because the service cannot serve (a connection error, a timeout, a 5xx or
throttling after botocore's own retries), the process stops calling that
service for :data:`COOLDOWN_S` and every call raises
:class:`DependencyUnavailable` at once. Callers decide what an outage means
for them (``docs/RELIABILITY.md``): without the breaker each call of a
request would wait through the retries again. Answers that are part of the
logic (``ConditionalCheckFailedException``, ``MessageRejected``) are
``ClientError`` as always and never trip it.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoCoreConnectionError
from botocore.parsers import ResponseParserError

from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def _kwargs() -> dict[str, Any]:
    settings = get_settings()
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": _CONFIG}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return kwargs


COOLDOWN_S = 5.0
GUARDED = ("dynamodb", "ses", "kms")
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
}


class DependencyUnavailable(Exception):
    """The AWS service cannot serve now (or failed within the cooldown); ``service`` says which."""

    def __init__(self, service: str, cause: BaseException | None = None) -> None:
        super().__init__(f"{service} is unavailable" + (f": {type(cause).__name__}" if cause else ""))
        self.service = service


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` says the service could not serve (as opposed to refusing the request)."""
    # Not every BotoCoreError: a ParamValidationError is our request's fault, not the service's.
    if isinstance(error, (BotoCoreConnectionError, HTTPClientError, ResponseParserError, DependencyUnavailable)):
        return True
    if isinstance(error, ClientError):
        response = error.response or {}
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or response.get("Error", {}).get("Code") in _THROTTLING
    return False


class _Breaker:
    def __init__(self, service: str) -> None:
        self.service = service
        self._open_until = 0.0
        self._lock = threading.Lock()

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if time.monotonic() < self._open_until:
            raise DependencyUnavailable(self.service)
        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError, ResponseParserError) as exc:
            if not is_outage(exc):
                raise
            with self._lock:
                self._open_until = time.monotonic() + COOLDOWN_S
            logger.warning(
                "circuit breaker opened",
                extra={
                    "dependency": self.service,
                    "cooldown_s": COOLDOWN_S,
                    "error": f"{type(exc).__name__}: {exc}"[:300],
                },
            )
            raise DependencyUnavailable(self.service, exc) from exc

    def reset(self) -> None:
        self._open_until = 0.0


class _GuardedClient:
    """A boto3 client whose operations go through the service's breaker (attributes pass through)."""

    def __init__(self, inner: Any, breaker: _Breaker) -> None:
        object.__setattr__(self, "_inner", inner)
        object.__setattr__(self, "_breaker", breaker)

    def __setattr__(self, name: str, value: Any) -> None:  # a test's spy lands on the real client
        setattr(self._inner, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._inner, name)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if (
            name.startswith("_")
            or name in ("meta", "exceptions", "get_paginator", "get_waiter", "can_paginate")
            or not callable(attribute)
        ):
            return attribute
        return functools.partial(self._breaker.call, attribute)


_breakers: dict[str, _Breaker] = {service: _Breaker(service) for service in GUARDED}


@functools.cache
def client(service: str) -> Any:
    """A cached low-level client (``dynamodb``, ``ses``, ``secretsmanager``...)."""
    inner = boto3.session.Session().client(service, **_kwargs())
    if service in _breakers:
        return _GuardedClient(inner, _breakers[service])
    return inner


@functools.cache
def dynamodb_table(physical_name: str) -> Any:
    return boto3.session.Session().resource("dynamodb", **_kwargs()).Table(physical_name)


def reset_clients() -> None:
    """Forget cached clients (tests point the process at a new endpoint)."""
    client.cache_clear()
    dynamodb_table.cache_clear()
    reset_breakers()


def reset_breakers() -> None:
    """Close every breaker (tests end an injected outage; a new process starts closed anyway)."""
    for breaker in _breakers.values():
        breaker.reset()
