"""Stateless stack: the Chalice app (API, jobs, migrate), deploy-time migrations, monitoring and the portal.

It can be destroyed and redeployed without touching data. Grants between the
functions' roles and the stateful resources are wired here, by name.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_app.config import EnvironmentConfig
from chalicelib.core import contract
from chalicelib.core.contract import APP_LOGIN, DATABASE_NAME, MASTER_LOGIN, Env, Table
from chalicelib.core.migrations import digest
from stacks import grants
from stacks.constructs.api import ChaliceApi
from stacks.constructs.app_secrets import AppSecrets
from stacks.constructs.database import Database
from stacks.constructs.migrations import DeployMigrations
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.network import Network
from stacks.constructs.portal import Portal, portal_source
from stacks.constructs.tables import Tables
from stacks.nag import AWS_CUSTOM_RESOURCE_SINGLETON, LAMBDA_BASIC, acknowledge, stack_singletons
from stacks.stateful_stack import removal_policy, retention

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
# The REST API's default endpoint (Fn::Sub syntax).
_API_ORIGIN = "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


class StatelessStack(cdk.Stack):
    """Exposes ``api``, ``migrations``, ``monitoring`` and ``portal``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        key: kms.IKey,
        network: Network,
        database: Database,
        secrets: AppSecrets,
        tables: Tables,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Declared before any grant: KMS grants then trust the account in the
        # key policy (already there) instead of naming this stack's roles,
        # which would make the stateful stack depend on this one.
        self.add_stack_dependency(cdk.Stack.of(key))
        policy = removal_policy(config)
        proxy_endpoint = database.proxy.endpoint
        # The variables every function gets (core.contract.DEPLOYED_ENVIRONMENT; tests/infra holds the two equal).
        environment: dict[str, str] = {
            Env.STAGE: config.name,
            Env.LOG_LEVEL: "INFO",
            Env.POWERTOOLS_SERVICE_NAME: "saas-api",
            Env.DB_HOST: proxy_endpoint,
            Env.DB_NAME: DATABASE_NAME,
            Env.DB_APP_USER: APP_LOGIN,
            Env.DB_IAM_AUTH: "1",
            **{table.variable: tables.tables[table].table_name for table in Table},
            Env.JWT_SECRET_ID: config.jwt_secret_name,
            Env.PEPPER_SECRET_ID: config.pepper_secret_name,
            Env.JWT_ISSUER: config.jwt_issuer,
            Env.JWT_AUDIENCE: config.jwt_audience,
            Env.BCRYPT_COST: str(config.bcrypt_cost),
            Env.SES_SENDER: config.ses_sender,
            Env.INVOICE_GRACE_DAYS: str(config.invoice_grace_days),
            Env.PORTAL_URL: config.portal_url,
            # The issuer on invoice PDFs (invoices.pdf): one address line per newline.
            Env.PLATFORM_NAME: config.platform_name,
            Env.PLATFORM_ADDRESS: "\n".join(config.platform_address),
            # auth.secret_box seals users' TOTP secrets with the platform's customer-managed key.
            Env.MFA_KEY_ID: key.key_arn,
            # payments.stripe_client: Stripe's two secrets by name (values set after deploy), the public key.
            Env.STRIPE_SECRET_ID: config.stripe_secret_name,
            Env.STRIPE_WEBHOOK_SECRET_ID: config.stripe_webhook_secret_name,
            Env.STRIPE_PUBLISHABLE_KEY: config.stripe_publishable_key,
        }
        self.api = ChaliceApi(
            self,
            "Api",
            source_dir=str(RUNTIME_DIR),
            python_version=config.lambda_python_version,
            key=key,
            subnets=network.vpc.select_subnets(subnet_type=network.app_subnets.subnet_type).subnets,
            security_group=network.lambda_sg,
            environment=environment,
            migrate_environment={
                Env.DB_MASTER_USER: MASTER_LOGIN,
                Env.DB_APP_SECRET_ARN: database.app_user_secret.secret_arn,
            },
            log_retention=retention(config),
            memory_mb=config.lambda_memory_mb,
            job_timeout_seconds=config.job_timeout_seconds,
            throttle_rate=config.api_throttle_rate,
            throttle_burst=config.api_throttle_burst,
            removal_policy=policy,
        )

        # The API handler and scheduled jobs: their tables, the two app
        # secrets (read), the proxy as saas_app_user, SES from one identity,
        # the key directly for sealed secrets (auth.secret_box).
        api_role = self.api.api_role
        for logical_name, table in tables.tables.items():
            grants.table_read_write(api_role, table, tables.specs[logical_name], key)
        grants.secret(api_role, secrets.jwt_secret, key)
        grants.secret(api_role, secrets.pepper_secret, key)
        grants.secret(api_role, secrets.stripe_secret, key)
        grants.secret(api_role, secrets.stripe_webhook_secret, key)
        grants.sealing(api_role, key)
        database.proxy.grant_connect(api_role, APP_LOGIN)
        # Only SendEmail: the mailer (notifications/mailer.py) never sends raw MIME.
        api_role.add_to_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail"],
                resources=[self.format_arn(service="ses", resource="identity", resource_name=config.ses_identity)],
                conditions={"StringEquals": {"ses:FromAddress": config.ses_sender}},
            )
        )
        # The migrate function: the proxy as the master user, the app user's
        # password (to set it), and the JWT secret (first-time shaping).
        migrate_role = self.api.migrate_role
        database.proxy.grant_connect(migrate_role, MASTER_LOGIN)
        grants.secret(migrate_role, database.app_user_secret, key)
        grants.secret(migrate_role, secrets.jwt_secret, key, write=True)

        self.migrations = DeployMigrations(
            self,
            "Migrations",
            handler=self.api.function(contract.MIGRATE.logical_id),
            digest=digest(),
            log_retention=retention(config),
            removal_policy=policy,
        )
        # The function's role must carry its grants before it first runs.
        self.migrations.node.add_dependency(migrate_role)

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            alarm_email=config.alarm_email,
            key=key,
            api_name=self.api.api_name,
            api_stage=self.api.api_stage,
            api_p99_latency_ms=config.api_p99_latency_ms,
            api_5xx_rate_percent=config.api_5xx_rate_percent,
            functions=self.api.functions,
            job_dead_letters=self.api.job_dead_letters,
            tables=tables.tables,
            cluster=database.cluster,
            proxy_name=database.proxy.db_proxy_name,
        )
        self.portal = Portal(
            self,
            "Portal",
            source=portal_source(),
            api_url=cdk.Fn.sub(f"{_API_ORIGIN}/{self.api.api_stage}"),
            api_origin=cdk.Fn.sub(_API_ORIGIN),
            stripe_publishable_key=config.stripe_publishable_key,
            log_retention=retention(config),
            log_retention_days=config.log_retention_days,
            removal_policy=policy,
        )
        self._portal_origin_on_stage(retention(config), policy)
        cdk.CfnOutput(self, "ApiUrl", value=self._api_url())
        cdk.CfnOutput(self, "PortalUrl", value=self.portal.origin)
        for function in self.api.functions:
            # e.g. FunctionCreateOperatorKey: what `aws lambda invoke` needs after a deploy.
            cdk.CfnOutput(self, f"Function{function.logical_id}", value=function.name)

    def _portal_origin_on_stage(self, log_retention: logs.RetentionDays, policy: cdk.RemovalPolicy) -> None:
        """The API stage's variable ``PORTAL_ORIGIN`` (core.cors allows that origin), set after deploy.

        Not in the template: the API function's environment, or the API's own stage variables,
        would depend on the distribution, whose CSP names the API, which invokes the function: a
        dependency cycle. This call (``apigateway:PATCH`` on the one stage) depends on both and
        nothing depends on it; it runs again whenever the distribution's domain changes.
        """
        rest_api, stage = cdk.Fn.ref("RestAPI"), cdk.Fn.ref("RestAPI.Stage")  # SAM's generated stage
        patch = {"op": "replace", "path": f"/variables/{Env.PORTAL_ORIGIN.value}", "value": self.portal.origin}
        call = cr.AwsSdkCall(
            service="APIGateway",
            action="updateStage",
            parameters={"restApiId": rest_api, "stageName": stage, "patchOperations": [patch]},
            physical_resource_id=cr.PhysicalResourceId.of("portal-origin-stage-variable"),
        )
        stage_arn = cdk.Fn.sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestAPI}/stages/" + self.api.api_stage
        )
        setter = cr.AwsCustomResource(
            self,
            "PortalOriginStageVariable",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["apigateway:PATCH"], resources=[stage_arn])]
            ),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self, "PortalOriginStageVariableLogs", retention=log_retention, removal_policy=policy
            ),
        )
        cdk.Validations.of(setter).acknowledge(
            cdk.Acknowledgment(
                id="CloudFormation-Validate::F1020",
                reason="RestAPI.Stage is the stage SAM generates for the API; the Serverless transform resolves it.",
            )
        )
        for function in stack_singletons(self, AWS_CUSTOM_RESOURCE_SINGLETON):
            acknowledge(
                function.node.find_child("ServiceRole"),
                f"IAM4[{LAMBDA_BASIC}]",
                "CDK's AwsCustomResource function only writes its own logs; the AWS basic execution policy is "
                "exactly that.",
            )
        self.portal_origin_setter = setter

    def _api_url(self) -> str:
        return cdk.Fn.sub(f"{_API_ORIGIN}/{self.api.api_stage}/")
