"""boto3 clients and resources, built once per process.

``AWS_ENDPOINT_URL`` points every client at the local endpoint (moto) on a
laptop or in CI; in the cloud it is unset and boto3 uses the real services.
"""
from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.core.settings import get_settings

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def _kwargs() -> dict[str, Any]:
    settings = get_settings()
    kwargs: dict[str, Any] = {"region_name": settings.region, "config": _CONFIG}
    if settings.aws_endpoint_url:
        kwargs["endpoint_url"] = settings.aws_endpoint_url
    return kwargs


@functools.cache
def client(service: str) -> Any:
    """A cached low-level client (``dynamodb``, ``ses``, ``secretsmanager``...)."""
    return boto3.session.Session().client(service, **_kwargs())


@functools.cache
def dynamodb_table(physical_name: str) -> Any:
    return boto3.session.Session().resource("dynamodb", **_kwargs()).Table(physical_name)


def reset_clients() -> None:
    """Forget cached clients (tests point the process at a new endpoint)."""
    client.cache_clear()
    dynamodb_table.cache_clear()
