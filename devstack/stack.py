"""Start and stop the whole local stack; shared by ``make run``, the tests and the benchmark."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.core.contract import (
    LOCAL_JWT_SECRET_ID,
    LOCAL_MFA_KEY_ID,
    LOCAL_PEPPER_SECRET_ID,
    LOCAL_SES_SENDER,
    LOCAL_STAGE,
    LOCAL_STRIPE_API_KEY,
    LOCAL_STRIPE_PUBLISHABLE_KEY,
    LOCAL_STRIPE_WEBHOOK_SECRET,
    Env,
    Table,
    local_table_name,
)
from devstack.aws import LocalAws, provision
from devstack.postgres import EmbeddedPostgres, free_port
from devstack.stripe_server import LocalStripe

REPO_ROOT = Path(__file__).resolve().parent.parent
# Not the runtime's: the migrations' (privileged) URL, for the tests and the benchmark.
ADMIN_DATABASE_URL = "ADMIN_DATABASE_URL"


@dataclass
class LocalStack:
    """PostgreSQL + AWS endpoint + Stripe (localstripe) + migrations, and the environment the runtime reads.

    ``DATABASE_URL`` (an *app-role* URL) and ``ADMIN_DATABASE_URL`` (a privileged
    URL for migrations), ``AWS_ENDPOINT_URL`` or ``STRIPE_API_BASE``, when set,
    replace the embedded server, moto or localstripe respectively.
    """

    state_dir: Path
    pg_port: int | None = None
    aws_port: int | None = None
    stripe_port: int | None = None
    fast_unsafe: bool = False
    bcrypt_cost: int = 12
    # Where the portal is served (make run): e-mailed links point there, and CORS allows its origin.
    portal_url: str | None = None
    postgres: EmbeddedPostgres | None = None
    aws: LocalAws | None = None
    stripe: LocalStripe | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> dict[str, str]:
        """Start what is needed, provision and migrate; return (and export) the runtime environment."""
        from chalicelib.core.migrations import migrate

        self.state_dir.mkdir(parents=True, exist_ok=True)
        if os.environ.get(Env.DATABASE_URL) and os.environ.get(ADMIN_DATABASE_URL):
            app_url, admin_url = os.environ[Env.DATABASE_URL], os.environ[ADMIN_DATABASE_URL]
        else:
            self.postgres = EmbeddedPostgres(self.state_dir / "pg", self.pg_port or free_port(), self.fast_unsafe)
            self.postgres.start()
            app_url, admin_url = self.postgres.app_url, self.postgres.superuser_url

        endpoint = os.environ.get(Env.AWS_ENDPOINT_URL)
        if not endpoint:
            self.aws = LocalAws(self.aws_port or free_port())
            self.aws.start()
            endpoint = self.aws.endpoint_url

        stripe_api_base = os.environ.get(Env.STRIPE_API_BASE)
        if not stripe_api_base:
            # Its state beside the database's: Stripe customers outlive a restart as their rows do.
            self.stripe = LocalStripe(self.state_dir / "localstripe.pickle", self.stripe_port or free_port())
            self.stripe.start()
            stripe_api_base = self.stripe.api_base

        self.env = {
            Env.STAGE: LOCAL_STAGE,
            Env.DATABASE_URL: app_url,
            ADMIN_DATABASE_URL: admin_url,
            Env.AWS_ENDPOINT_URL: endpoint,
            Env.AWS_DEFAULT_REGION: "us-east-1",
            Env.AWS_REGION: "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            **{table.variable: local_table_name(table) for table in Table},
            Env.JWT_SECRET_ID: LOCAL_JWT_SECRET_ID,
            Env.PEPPER_SECRET_ID: LOCAL_PEPPER_SECRET_ID,
            Env.SES_SENDER: LOCAL_SES_SENDER,
            Env.MFA_KEY_ID: LOCAL_MFA_KEY_ID,
            # Webhooks may go to a receiver on this machine (http://127.0.0.1:<port>); never in the cloud.
            Env.WEBHOOKS_ALLOW_LOCAL: "1",
            Env.BCRYPT_COST: str(self.bcrypt_cost),
            Env.STRIPE_API_BASE: stripe_api_base,
            Env.STRIPE_API_KEY: LOCAL_STRIPE_API_KEY,
            Env.STRIPE_PUBLISHABLE_KEY: LOCAL_STRIPE_PUBLISHABLE_KEY,
            Env.STRIPE_WEBHOOK_SECRET: LOCAL_STRIPE_WEBHOOK_SECRET,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "SaaSPlatformLocal",
        }
        if self.portal_url is not None:
            self.env |= {Env.PORTAL_URL: self.portal_url, Env.PORTAL_ORIGIN: self.portal_url}
        os.environ.update(self.env)
        provision(
            self.aws or _external(endpoint),
            table_names={table: self.env[table.variable] for table in Table},
            jwt_secret_id=self.env[Env.JWT_SECRET_ID],
            pepper_secret_id=self.env[Env.PEPPER_SECRET_ID],
            ses_sender=self.env[Env.SES_SENDER],
            mfa_key_alias=self.env[Env.MFA_KEY_ID],
            # Sealed TOTP secrets outlive moto in the persistent PostgreSQL: so does their key.
            key_file=self.state_dir / "kms-mfa-key.json",
        )
        migrate(admin_url)
        ensure_usage_partitions(admin_url)

        from chalicelib.core import aws as runtime_aws
        from chalicelib.core import db
        from chalicelib.core.settings import reset_settings

        reset_settings()
        runtime_aws.reset_clients()
        db.close_pool()
        return self.env

    def stop(self) -> None:
        from chalicelib.core import db

        db.close_pool()
        if self.stripe is not None:
            self.stripe.stop()
        if self.aws is not None:
            self.aws.stop()
        if self.postgres is not None:
            self.postgres.stop()


def ensure_usage_partitions(admin_url: str) -> int:
    """What the daily jobs do, done at start: a stack left off for months finds this month's partitions."""
    import psycopg

    from chalicelib.metering.partitions import ENSURE, MONTHS_AHEAD

    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(ENSURE, {"months_ahead": MONTHS_AHEAD}).fetchone()
    return int(row[0]) if row else 0


class _ExternalAws(LocalAws):
    def __init__(self, endpoint: str) -> None:
        super().__init__(port=0)
        self._endpoint = endpoint

    @property
    def endpoint_url(self) -> str:
        return self._endpoint


def _external(endpoint: str) -> LocalAws:
    return _ExternalAws(endpoint)
