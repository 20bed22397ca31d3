"""Dependency checks for ``GET /health``."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from psycopg import Error as PsycopgError
from psycopg_pool import PoolTimeout

from chalicelib.core import aws, db
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

# A health probe answers quickly or reports the dependency down.
DB_TIMEOUT_S = 3.0


def check_dependencies() -> dict[str, str]:
    """``{"database": "ok"|"down", "cache": "ok"|"down"}``; never raises."""
    return {"database": _database(), "cache": _cache()}


def _database() -> str:
    try:
        with db.plain_transaction(timeout=DB_TIMEOUT_S) as conn:
            conn.execute("SELECT 1").fetchone()
        return "ok"
    except (PsycopgError, PoolTimeout, OSError) as exc:
        logger.warning("health: database down", extra={"error": type(exc).__name__})
        return "down"


def _cache() -> str:
    try:
        aws.client("dynamodb").describe_table(TableName=get_settings().cache_table)
        return "ok"
    except (aws.DependencyUnavailable, BotoCoreError, ClientError) as exc:
        logger.warning("health: cache down", extra={"error": type(exc).__name__})
        return "down"
