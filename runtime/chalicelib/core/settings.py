"""Runtime settings, read once from the environment.

Locally every value comes from environment variables written by the dev stack
or the test fixtures. In the cloud the CDK stack sets the same variables, and
secrets (database credentials, JWT keys, API-key pepper) are fetched through
Powertools parameters by the modules that need them, never put in env vars.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str
    region: str
    aws_endpoint_url: str | None
    database_url: str | None
    db_secret_arn: str | None
    db_host: str | None
    db_port: int
    db_name: str
    db_app_user: str
    db_iam_auth: bool
    db_ssl_root_cert: str | None
    db_master_user: str | None
    db_app_secret_arn: str | None
    db_pool_min: int
    db_pool_max: int
    cache_table: str
    sessions_table: str
    metrics_table: str
    jwt_secret_id: str
    pepper_secret_id: str
    jwt_issuer: str
    jwt_audience: str
    bcrypt_cost: int
    ses_sender: str
    invoice_grace_days: int
    log_level: str


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; call ``reset_settings`` after changing env)."""
    env = os.environ
    return Settings(
        stage=env.get("STAGE", "local"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        aws_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        database_url=env.get("DATABASE_URL") or None,
        db_secret_arn=env.get("DB_SECRET_ARN") or None,
        db_host=env.get("DB_HOST") or None,
        db_port=_int("DB_PORT", 5432),
        db_name=env.get("DB_NAME", "saas"),
        db_app_user=env.get("DB_APP_USER", "saas_app_user"),
        # Cloud: RDS Proxy requires IAM auth, so logins sign a 15-minute token
        # instead of holding a password (see core.db).
        db_iam_auth=env.get("DB_IAM_AUTH", "").lower() in ("1", "true", "yes"),
        # The CA bundle that verifies the proxy's certificate (verify-full). Unset:
        # certifi's bundle (RDS Proxy presents an ACM certificate, which chains
        # to the Amazon roots in it). The Lambda harness points it at its own CA.
        db_ssl_root_cert=env.get("DB_SSL_ROOT_CERT") or None,
        # Only the deploy-time migration function has these two.
        db_master_user=env.get("DB_MASTER_USER") or None,
        db_app_secret_arn=env.get("DB_APP_SECRET_ARN") or None,
        db_pool_min=_int("DB_POOL_MIN", 1),
        db_pool_max=_int("DB_POOL_MAX", 10),
        cache_table=env.get("CACHE_TABLE", "saas-local-cache"),
        sessions_table=env.get("SESSIONS_TABLE", "saas-local-sessions"),
        metrics_table=env.get("METRICS_TABLE", "saas-local-metrics"),
        jwt_secret_id=env.get("JWT_SECRET_ID", "saas-local/jwt-signing-keys"),
        pepper_secret_id=env.get("PEPPER_SECRET_ID", "saas-local/api-key-pepper"),
        jwt_issuer=env.get("JWT_ISSUER", "https://api.saas.local"),
        jwt_audience=env.get("JWT_AUDIENCE", "saas-api"),
        bcrypt_cost=_int("BCRYPT_COST", 12),
        ses_sender=env.get("SES_SENDER", "billing@saas.local"),
        invoice_grace_days=_int("INVOICE_GRACE_DAYS", 3),
        log_level=env.get("LOG_LEVEL", "INFO"),
    )


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between stacks)."""
    get_settings.cache_clear()
