"""Runtime settings, read once from the environment.

Locally every value comes from environment variables written by the dev stack
or the test fixtures. In the cloud the CDK stack sets the same variables: their
names, and the local defaults, are ``core.contract``'s. Secrets (database
credentials, JWT keys, API-key pepper) are fetched through Powertools
parameters by the modules that need them, never put in env vars.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from chalicelib.core.contract import (
    APP_LOGIN,
    DATABASE_NAME,
    LOCAL_JWT_SECRET_ID,
    LOCAL_MFA_KEY_ID,
    LOCAL_PEPPER_SECRET_ID,
    LOCAL_PLATFORM_ADDRESS,
    LOCAL_PLATFORM_NAME,
    LOCAL_PORTAL_URL,
    LOCAL_SES_SENDER,
    LOCAL_STAGE,
    LOCAL_STRIPE_PUBLISHABLE_KEY,
    Env,
    Table,
    local_table_name,
)


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
    rate_limit_table: str
    jwt_secret_id: str
    pepper_secret_id: str
    jwt_issuer: str
    jwt_audience: str
    bcrypt_cost: int
    ses_sender: str
    invoice_grace_days: int
    # Months of usage events online besides the current one (metering.partitions): at least 3.
    usage_retention_months: int
    portal_url: str
    portal_origin: str | None
    mfa_key_id: str
    platform_name: str
    platform_address: tuple[str, ...]
    webhooks_allow_local: bool
    # Stripe (payments.stripe_client): the secrets by id in the cloud, by value locally.
    stripe_secret_id: str | None
    stripe_webhook_secret_id: str | None
    stripe_api_key: str | None
    stripe_webhook_secret: str | None
    stripe_publishable_key: str
    stripe_api_base: str | None
    log_level: str


def _int(name: Env, default: int) -> int:
    return int(os.environ.get(name, default))


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; call ``reset_settings`` after changing env)."""
    env = os.environ
    return Settings(
        stage=env.get(Env.STAGE, LOCAL_STAGE),
        region=env.get(Env.AWS_REGION) or env.get(Env.AWS_DEFAULT_REGION) or "us-east-1",
        aws_endpoint_url=env.get(Env.AWS_ENDPOINT_URL) or None,
        database_url=env.get(Env.DATABASE_URL) or None,
        db_secret_arn=env.get(Env.DB_SECRET_ARN) or None,
        db_host=env.get(Env.DB_HOST) or None,
        db_port=_int(Env.DB_PORT, 5432),
        db_name=env.get(Env.DB_NAME, DATABASE_NAME),
        db_app_user=env.get(Env.DB_APP_USER, APP_LOGIN),
        # Cloud: RDS Proxy requires IAM auth, so logins sign a 15-minute token
        # instead of holding a password (see core.db).
        db_iam_auth=env.get(Env.DB_IAM_AUTH, "").lower() in ("1", "true", "yes"),
        # The CA bundle that verifies the proxy's certificate (verify-full). Unset:
        # certifi's bundle (RDS Proxy presents an ACM certificate, which chains
        # to the Amazon roots in it). The Lambda harness points it at its own CA.
        db_ssl_root_cert=env.get(Env.DB_SSL_ROOT_CERT) or None,
        # Only the deploy-time migration function has these two.
        db_master_user=env.get(Env.DB_MASTER_USER) or None,
        db_app_secret_arn=env.get(Env.DB_APP_SECRET_ARN) or None,
        db_pool_min=_int(Env.DB_POOL_MIN, 1),
        db_pool_max=_int(Env.DB_POOL_MAX, 10),
        cache_table=env.get(Table.CACHE.variable, local_table_name(Table.CACHE)),
        sessions_table=env.get(Table.SESSIONS.variable, local_table_name(Table.SESSIONS)),
        rate_limit_table=env.get(Table.RATE_LIMITS.variable, local_table_name(Table.RATE_LIMITS)),
        jwt_secret_id=env.get(Env.JWT_SECRET_ID, LOCAL_JWT_SECRET_ID),
        pepper_secret_id=env.get(Env.PEPPER_SECRET_ID, LOCAL_PEPPER_SECRET_ID),
        jwt_issuer=env.get(Env.JWT_ISSUER, "https://api.saas.local"),
        jwt_audience=env.get(Env.JWT_AUDIENCE, "saas-api"),
        bcrypt_cost=_int(Env.BCRYPT_COST, 12),
        ses_sender=env.get(Env.SES_SENDER, LOCAL_SES_SENDER),
        invoice_grace_days=_int(Env.INVOICE_GRACE_DAYS, 3),
        usage_retention_months=max(3, _int(Env.USAGE_RETENTION_MONTHS, 24)),
        # The customer portal, without a trailing slash: e-mailed links are built on it.
        portal_url=env.get(Env.PORTAL_URL, LOCAL_PORTAL_URL).rstrip("/"),
        # Unset: the API answers no CORS at all (core.cors); the cloud passes it as a stage variable.
        portal_origin=(env.get(Env.PORTAL_ORIGIN) or "").rstrip("/") or None,
        # Cloud: the customer-managed key's ARN; locally the dev stack's key by alias.
        mfa_key_id=env.get(Env.MFA_KEY_ID, LOCAL_MFA_KEY_ID),
        # The issuer printed on invoice PDFs; the address is one line per newline.
        platform_name=env.get(Env.PLATFORM_NAME) or LOCAL_PLATFORM_NAME,
        platform_address=tuple(
            line.strip()
            for line in (env.get(Env.PLATFORM_ADDRESS) or LOCAL_PLATFORM_ADDRESS).splitlines()
            if line.strip()
        ),
        # The dev stack's switch: webhooks may also go to http://127.0.0.1 (never set in the cloud).
        webhooks_allow_local=env.get(Env.WEBHOOKS_ALLOW_LOCAL, "").lower() in ("1", "true", "yes"),
        # Cloud: the two secrets by id (values set after deploy); locally the values themselves
        # and localstripe's base URL (unset: Stripe's own API).
        stripe_secret_id=env.get(Env.STRIPE_SECRET_ID) or None,
        stripe_webhook_secret_id=env.get(Env.STRIPE_WEBHOOK_SECRET_ID) or None,
        stripe_api_key=env.get(Env.STRIPE_API_KEY) or None,
        stripe_webhook_secret=env.get(Env.STRIPE_WEBHOOK_SECRET) or None,
        stripe_publishable_key=env.get(Env.STRIPE_PUBLISHABLE_KEY, LOCAL_STRIPE_PUBLISHABLE_KEY),
        stripe_api_base=(env.get(Env.STRIPE_API_BASE) or "").rstrip("/") or None,
        log_level=env.get(Env.LOG_LEVEL, "INFO"),
    )


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between stacks)."""
    get_settings.cache_clear()
