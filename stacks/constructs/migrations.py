"""Deploy-time migrations: a custom resource that invokes the Chalice ``migrate`` function.

The resource's only property is the digest of the migration files
(``chalicelib.core.migrations.digest()``), so CloudFormation updates it — and
the migrations run — exactly when a migration file changes. The CDK Provider
framework reports the function's result to CloudFormation; an exception in
the function fails the deploy and rolls the stack back.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.nag import LAMBDA_BASIC, acknowledge


class DeployMigrations(Construct):
    """Exposes ``provider`` and ``resource`` (``Custom::DatabaseMigrations``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        digest: str,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=handler,
            log_group=logs.LogGroup(self, "ProviderLogs", retention=log_retention, removal_policy=removal_policy),
        )
        self.resource = cdk.CustomResource(
            self,
            "Migrations",
            service_token=self.provider.service_token,
            resource_type="Custom::DatabaseMigrations",
            properties={"MigrationsDigest": digest},
        )
        framework_role = self.provider.node.find_child("framework-onEvent").node.find_child("ServiceRole")
        acknowledge(
            framework_role,
            f"IAM4[{LAMBDA_BASIC}]",
            "CDK's custom-resource provider function only writes its own logs.",
        )
        # cdk-nag names the handler by its reference in the template (<Migrate.Arn>).
        handler_id, _ = cdk.Stack.of(self).resolve(handler.function_arn)["Fn::GetAtt"]
        acknowledge(
            framework_role.node.find_child("DefaultPolicy"),
            f"IAM5[Resource::<{handler_id}.Arn>:*]",
            "The provider may invoke the migrate function's versions and aliases; it is still that one function.",
        )
