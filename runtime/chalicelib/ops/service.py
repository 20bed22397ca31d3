"""Custom-resource logic for deploy-time migrations and first-time secret set-up.

Create/Update: make sure the JWT signing-key secret has the runtime's shape,
then apply pending migrations as the cluster master user (through RDS Proxy,
IAM-authenticated), setting the ``saas_app_user`` password from its secret so
the proxy can log in as it. Delete: nothing — dropping a stack never drops
the schema. Any exception propagates so CloudFormation fails the deploy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from chalicelib.auth.signing import seed_kid
from chalicelib.core import aws, db, migrations
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

PHYSICAL_ID = "saas-database-migrations"
_REQUEST_TYPES = ("Create", "Update", "Delete")


def jwt_keys_from_seed(raw: str) -> str | None:
    """The runtime JWT-keys document for a freshly generated seed, or ``None`` if already in shape.

    Secrets Manager can only generate a flat JSON object (``{"seed": true,
    "secret": "..."}``); the runtime reads ``{"current": {"kid", "secret"},
    "previous": null}``, as the local stack writes it.
    """
    value = json.loads(raw)
    if isinstance(value, dict) and isinstance(value.get("current"), dict):
        return None
    if not (isinstance(value, dict) and value.get("seed") and isinstance(value.get("secret"), str)):
        raise ValueError("the JWT secret is neither a generated seed nor a key document")
    # The same kid the runtime derives while the secret is still a seed, so
    # tokens signed before the rewrite keep verifying after it.
    return json.dumps({"current": {"kid": seed_kid(value["secret"]), "secret": value["secret"]}, "previous": None})


def ensure_jwt_keys(secret_id: str, *, client: Any = None) -> bool:
    """Rewrite a seed JWT secret into the runtime's shape; ``True`` when it was rewritten."""
    client = client or aws.client("secretsmanager")
    document = jwt_keys_from_seed(client.get_secret_value(SecretId=secret_id)["SecretString"])
    if document is None:
        return False
    client.put_secret_value(SecretId=secret_id, SecretString=document)
    return True


def app_user_password(secret_arn: str, *, client: Any = None) -> str:
    client = client or aws.client("secretsmanager")
    password: str = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])["password"]
    return password


# On a first deploy the custom resource can run while RDS Proxy is still
# registering its target (connections fail or time out for a few minutes):
# keep trying, with backoff, for most of the function's 300 s timeout.
CONNECT_DEADLINE_SECONDS = 240.0
_FIRST_DELAY, _MAX_DELAY = 2.0, 30.0


def wait_for_database(
    connect_kwargs: Callable[[], dict[str, Any]],
    *,
    deadline_seconds: float = CONNECT_DEADLINE_SECONDS,
    connect: Callable[..., Any] = psycopg.connect,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Open (and close) one connection, retrying with backoff; return the attempts it took.

    ``connect_kwargs`` is called per attempt: an IAM token is signed afresh
    each time. The last error propagates once the deadline would be passed.
    """
    deadline = clock() + deadline_seconds
    delay, attempt = _FIRST_DELAY, 0
    while True:
        attempt += 1
        try:
            connect(**connect_kwargs()).close()
            return attempt
        except psycopg.OperationalError as error:
            if clock() + delay > deadline:
                raise
            logger.warning(
                "migrations: database not reachable yet, retrying",
                extra={"attempt": attempt, "retry_in_s": delay, "error": str(error).strip()[:300]},
            )
            sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)


def run_migrations() -> list[str]:
    """Apply pending migrations through the proxy as the master user; return the files applied."""
    settings = get_settings()
    if not (settings.db_master_user and settings.db_app_secret_arn and settings.db_host):
        raise RuntimeError("DB_MASTER_USER, DB_APP_SECRET_ARN and DB_HOST must be set for migrations")
    master = settings.db_master_user
    wait_for_database(lambda: db.iam_connect_kwargs(master))
    return migrations.migrate(
        "",
        app_password=app_user_password(settings.db_app_secret_arn),
        **db.iam_connect_kwargs(master),
    )


def on_migrations_event(
    event: Mapping[str, Any],
    *,
    apply: Callable[[], list[str]] = run_migrations,
    prepare_secrets: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Handle one CloudFormation custom-resource event (CDK Provider framework shape).

    Parameters
    ----------
    event
        ``RequestType`` is ``Create``, ``Update`` or ``Delete``; ``ResourceProperties``
        carries ``MigrationsDigest``.
    apply, prepare_secrets
        The migration run and the secret set-up (replaced in tests).
    """
    request_type = event.get("RequestType")
    if request_type not in _REQUEST_TYPES:
        raise ValueError(f"unexpected custom resource request type {request_type!r}")
    if request_type == "Delete":
        logger.info("migrations: delete is a no-op; the schema outlives the stack")
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID}
    digest = (event.get("ResourceProperties") or {}).get("MigrationsDigest")
    if prepare_secrets is None:
        prepare_secrets = lambda: ensure_jwt_keys(get_settings().jwt_secret_id)  # noqa: E731
    prepare_secrets()
    applied = apply()
    logger.info("migrations applied", extra={"applied": applied, "digest": digest})
    return {
        "PhysicalResourceId": PHYSICAL_ID,
        "Data": {"Applied": ",".join(applied) or "none", "Digest": str(digest)},
    }
