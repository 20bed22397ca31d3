"""The names the runtime and the infrastructure that runs it must agree on, written once.

The runtime reads environment variables (``core.settings``), defines Lambda
functions (Chalice blueprints), logs in to the database and addresses DynamoDB
tables; the CDK stacks (``stacks/``), the local stack (``devstack/``) and the
Lambda harness set those variables, deploy those functions, create those logins
and tables. Each side imports the names from here instead of retyping them;
``tests/unit/test_contract.py`` and ``tests/infra`` hold both sides to it.

This module is part of the Lambda package, so it imports nothing but the
standard library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Env(StrEnum):
    """An environment variable the runtime reads. Members are ``str``: ``os.environ.get(Env.STAGE)`` works."""

    STAGE = "STAGE"
    LOG_LEVEL = "LOG_LEVEL"
    # Read by Powertools itself (the service dimension of logs, traces and metrics).
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    # Lambda sets AWS_REGION; a laptop or a synth sets AWS_DEFAULT_REGION.
    AWS_REGION = "AWS_REGION"
    AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"
    # Local only: moto's endpoint and a direct database URL (no proxy, no IAM).
    AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL"
    DATABASE_URL = "DATABASE_URL"
    DB_SECRET_ARN = "DB_SECRET_ARN"
    DB_HOST = "DB_HOST"
    DB_PORT = "DB_PORT"
    DB_NAME = "DB_NAME"
    DB_APP_USER = "DB_APP_USER"
    DB_IAM_AUTH = "DB_IAM_AUTH"
    DB_SSL_ROOT_CERT = "DB_SSL_ROOT_CERT"
    DB_POOL_MIN = "DB_POOL_MIN"
    DB_POOL_MAX = "DB_POOL_MAX"
    # The migrate function only: the login it migrates as and the secret of the app login's password.
    DB_MASTER_USER = "DB_MASTER_USER"
    DB_APP_SECRET_ARN = "DB_APP_SECRET_ARN"
    CACHE_TABLE = "CACHE_TABLE"
    SESSIONS_TABLE = "SESSIONS_TABLE"
    RATE_LIMIT_TABLE = "RATE_LIMIT_TABLE"
    JWT_SECRET_ID = "JWT_SECRET_ID"
    PEPPER_SECRET_ID = "PEPPER_SECRET_ID"
    JWT_ISSUER = "JWT_ISSUER"
    JWT_AUDIENCE = "JWT_AUDIENCE"
    BCRYPT_COST = "BCRYPT_COST"
    SES_SENDER = "SES_SENDER"
    INVOICE_GRACE_DAYS = "INVOICE_GRACE_DAYS"
    # The customer portal's base URL: the links in invitation and password-reset e-mails point there.
    PORTAL_URL = "PORTAL_URL"
    # The portal's origin (scheme://host[:port]): the one origin the API answers CORS for (core.cors).
    # Locally an environment variable; in the cloud the API stage's variable of the same name, since
    # the API function cannot reference the CloudFront distribution whose CSP names the API.
    PORTAL_ORIGIN = "PORTAL_ORIGIN"
    # The KMS key that seals small secrets at rest (users' TOTP secrets: auth.secret_box).
    MFA_KEY_ID = "MFA_KEY_ID"
    # Who issues the invoices: the name and postal address printed on every invoice PDF
    # (the address's lines separated by newlines).
    PLATFORM_NAME = "PLATFORM_NAME"
    PLATFORM_ADDRESS = "PLATFORM_ADDRESS"
    # Local stack only (never deployed): webhooks may also go to http://127.0.0.1:<port> (webhooks.urls).
    WEBHOOKS_ALLOW_LOCAL = "WEBHOOKS_ALLOW_LOCAL"
    # Stripe (payments): in the cloud the secret key and the webhook signing secret are Secrets
    # Manager secrets, by id; the publishable key is public configuration.
    STRIPE_SECRET_ID = "STRIPE_SECRET_ID"
    STRIPE_WEBHOOK_SECRET_ID = "STRIPE_WEBHOOK_SECRET_ID"
    STRIPE_PUBLISHABLE_KEY = "STRIPE_PUBLISHABLE_KEY"
    # Local only: the values themselves, and the Stripe-compatible server (localstripe) to call.
    STRIPE_API_KEY = "STRIPE_API_KEY"
    STRIPE_WEBHOOK_SECRET = "STRIPE_WEBHOOK_SECRET"
    STRIPE_API_BASE = "STRIPE_API_BASE"
    # Months of usage events kept online besides the current one (older partitions are detached by
    # the usage-partitions job); optional, the default is core.settings'.
    USAGE_RETENTION_MONTHS = "USAGE_RETENTION_MONTHS"


class Table(StrEnum):
    """A DynamoDB table by logical name (``core.tables`` specs, the CDK construct ids, the local names)."""

    CACHE = "cache"  # API-key verification cache
    SESSIONS = "sessions"  # sessions and refresh tokens
    # Rate-limit and quota counters. The logical name predates the rename (it was "the metrics
    # table"); it stays, because it is the CloudFormation id of a deployed table.
    RATE_LIMITS = "metrics"

    @property
    def variable(self) -> Env:
        """The variable that carries this table's physical name to the runtime."""
        if self is Table.RATE_LIMITS:
            return Env.RATE_LIMIT_TABLE
        return Env(f"{self.value.upper()}_TABLE")


# What every deployed function is given (the stateless stack), whatever it does.
DEPLOYED_ENVIRONMENT: frozenset[Env] = frozenset(
    {
        Env.STAGE,
        Env.LOG_LEVEL,
        Env.POWERTOOLS_SERVICE_NAME,
        Env.DB_HOST,
        Env.DB_NAME,
        Env.DB_APP_USER,
        Env.DB_IAM_AUTH,
        *(table.variable for table in Table),
        Env.JWT_SECRET_ID,
        Env.PEPPER_SECRET_ID,
        Env.JWT_ISSUER,
        Env.JWT_AUDIENCE,
        Env.BCRYPT_COST,
        Env.SES_SENDER,
        Env.INVOICE_GRACE_DAYS,
        Env.PORTAL_URL,
        Env.MFA_KEY_ID,
        Env.PLATFORM_NAME,
        Env.PLATFORM_ADDRESS,
        Env.STRIPE_SECRET_ID,
        Env.STRIPE_WEBHOOK_SECRET_ID,
        Env.STRIPE_PUBLISHABLE_KEY,
    }
)
# Given to the migrate function only: no other function may act as the master login.
MIGRATE_ONLY_ENVIRONMENT: frozenset[Env] = frozenset({Env.DB_MASTER_USER, Env.DB_APP_SECRET_ARN})

# The database and its two logins (the NOLOGIN roles behind them are the migrations' business: roles.sql).
DATABASE_NAME = "saas"
# The cluster's master login: the deploy-time migrate function's, never the API's.
MASTER_LOGIN = "saas_master"
# The runtime's login, created by chalicelib/migrations/roles.sql; its password secret carries this username.
APP_LOGIN = "saas_app_user"

# The stage a laptop and the tests run as; local resource names are derived from it.
LOCAL_STAGE = "local"


def local_table_name(table: Table, stage: str = LOCAL_STAGE) -> str:
    """The physical name of ``table`` outside the cloud (in the cloud CloudFormation names it)."""
    return f"saas-{stage}-{table.value}"


# What the local stack provisions (in the cloud cdk.json gives each environment's).
LOCAL_JWT_SECRET_ID = f"saas-{LOCAL_STAGE}/jwt-signing-keys"
LOCAL_PEPPER_SECRET_ID = f"saas-{LOCAL_STAGE}/api-key-pepper"
LOCAL_SES_SENDER = "billing@saas.local"
# Where `make run` serves the customer portal (its dev server's default port).
LOCAL_PORTAL_URL = "http://127.0.0.1:5173"
# The local stack's KMS key for auth.secret_box, by alias (Encrypt and Decrypt take an alias as KeyId).
LOCAL_MFA_KEY_ID = f"alias/saas-{LOCAL_STAGE}-mfa"
# The issuer on a local stack's invoice PDFs.
LOCAL_PLATFORM_NAME = "SaaS Platform (local)"
LOCAL_PLATFORM_ADDRESS = "1 Example Street\nSpringfield, ST 00000\nUnited States"
# The local stack's Stripe (localstripe): any "sk_" key is accepted, the publishable key only names
# itself in the fake Stripe.js, and the webhook secret signs the events it sends to the local API.
LOCAL_STRIPE_API_KEY = "sk_test_local"
LOCAL_STRIPE_PUBLISHABLE_KEY = "pk_test_local"
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_local_stripe_webhooks"


class SealedPurpose(StrEnum):
    """What a secret sealed with the MFA key is for: the ``purpose`` of its KMS encryption context.

    The API role may call KMS Encrypt/Decrypt directly only with one of these
    (an IAM condition, ``stacks/grants.py``); ``auth.secret_box`` refuses any other.
    """

    MFA_TOTP = "mfa_totp"
    # A webhook endpoint's signing key (webhooks.delivery.key_context).
    WEBHOOK_SECRET = "webhook_secret"


@dataclass(frozen=True, slots=True)
class Function:
    """A Lambda function the runtime defines by ``name`` and the infrastructure finds by ``logical_id``."""

    name: str
    scheduled: bool = False

    @property
    def logical_id(self) -> str:
        """The SAM resource id Chalice gives the function (``chalice.utils.to_cfn_resource_name``)."""
        return "".join(part[0].upper() + part[1:] for part in re.split(r"[-_]+", self.name) if part)


# Chalice's own fixed id for the function behind every API route.
API_HANDLER = "APIHandler"
# The on-event handler of the deploy-time migrations custom resource.
MIGRATE = Function("migrate")
# Invoked once after the first deploy for the first operator key.
CREATE_OPERATOR_KEY = Function("create_operator_key")
BILLING_MONTHLY_RUN = Function("billing_monthly_run", scheduled=True)
BILLING_DAILY_JOB = Function("billing_daily_job", scheduled=True)
NOTIFICATIONS_DELIVERY = Function("notifications_delivery", scheduled=True)
AUDIT_RETENTION_PURGE = Function("audit_retention_purge", scheduled=True)
# Charges what finalized invoices are due (first charges a billing run left, and dunning's retries).
PAYMENTS_DUNNING = Function("payments_dunning", scheduled=True)
WEBHOOKS_DELIVERY = Function("webhooks_delivery", scheduled=True)
# Creates usage_events' monthly partitions ahead and detaches those past the retention.
USAGE_PARTITIONS_JOB = Function("usage_partitions_job", scheduled=True)

# Every function besides the API handler; tests/infra checks the Chalice app defines exactly these.
FUNCTIONS: tuple[Function, ...] = (
    MIGRATE,
    CREATE_OPERATOR_KEY,
    BILLING_MONTHLY_RUN,
    BILLING_DAILY_JOB,
    NOTIFICATIONS_DELIVERY,
    AUDIT_RETENTION_PURGE,
    PAYMENTS_DUNNING,
    WEBHOOKS_DELIVERY,
    USAGE_PARTITIONS_JOB,
)
SCHEDULED_JOBS: tuple[Function, ...] = tuple(function for function in FUNCTIONS if function.scheduled)
