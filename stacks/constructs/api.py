"""The Chalice application (API, scheduled jobs, the migrate function) through ``chalice.cdk``.

Chalice packages ``runtime/`` as a SAM template (``AWS::Serverless::*``) and
this construct includes it. IAM roles are created here — not by Chalice — so
the stack can grant each one exactly what it needs:

* ``api_role``: the API handler and the scheduled jobs;
* ``migrate_role``: the deploy-time ``migrate`` function only (master login).

The REST API stage gets throttling, JSON access logs, execution logging of
errors and X-Ray tracing. There is no API Gateway authorizer (and so no
authorizer cache): the app authorizes every request in-process against the
live session, so revocation takes effect on the next request.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from chalice.cdk import Chalice
from constructs import Construct

API_STAGE = "api"
API_HANDLER = "APIHandler"
MIGRATE_FUNCTION = "Migrate"
# API Gateway gives up on an integration after 29 s.
API_TIMEOUT_SECONDS = 29
MIGRATE_TIMEOUT_SECONDS = 300

_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "responseLatency": "$context.responseLatency",
    }
)


@dataclass(frozen=True, slots=True)
class AppFunction:
    """One Lambda function Chalice generated: its SAM logical id and whether a schedule runs it."""

    logical_id: str
    scheduled: bool
    name: str  # a token resolving to the function name (Ref)


def _put_first_on_path(source_dir: str) -> None:
    """Make ``import app`` (what Chalice does) find ``runtime/app.py``, not the CDK ``app.py``.

    Chalice only prepends the project directory when it is absent from
    ``sys.path``; with ``runtime`` on ``PYTHONPATH`` it is present but behind
    the repository root, where the CDK entry point is also called ``app.py``.
    """
    loaded = sys.modules.get("app")
    if loaded is not None and os.path.dirname(os.path.abspath(loaded.__file__ or "")) != source_dir:
        raise RuntimeError(f"a module named 'app' other than {source_dir}/app.py is already imported")
    while source_dir in sys.path:
        sys.path.remove(source_dir)
    sys.path.insert(0, source_dir)


class ChaliceApi(Construct):
    """The Chalice app with its roles, VPC placement and API stage settings.

    Exposes ``chalice``, ``api_role``, ``migrate_role``, ``functions`` (every
    generated function), ``api_name`` and ``api_stage``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: str,
        subnets: list[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        environment: dict[str, str],
        migrate_environment: dict[str, str],
        log_retention: logs.RetentionDays,
        memory_mb: int,
        job_timeout_seconds: int,
        throttle_rate: float,
        throttle_burst: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        source_dir = os.path.abspath(source_dir)
        stack = cdk.Stack.of(self)
        self.api_role = self._function_role("ApiRole", "Chalice API handler and scheduled jobs")
        self.migrate_role = self._function_role("MigrateRole", "Deploy-time database migrations")

        # Stage-wide settings. chalice.cdk's stage_config is consulted before
        # any per-function block, so per-function differences (the migrate
        # function's role, timeouts, log groups) are applied below as overrides.
        stage_config = {
            "api_gateway_stage": API_STAGE,
            "api_gateway_endpoint_type": "REGIONAL",
            "manage_iam_role": False,
            "iam_role_arn": self.api_role.role_arn,
            "autogen_policy": False,
            "environment_variables": environment,
            "subnet_ids": [subnet.subnet_id for subnet in subnets],
            "security_group_ids": [security_group.security_group_id],
            "xray": True,
            "lambda_memory_size": memory_mb,
            "lambda_timeout": API_TIMEOUT_SECONDS,
        }
        # chalice.cdk names the Chalice stage after the construct's scope, so
        # it is created directly under the stack: the stage is the stack id.
        _put_first_on_path(source_dir)
        self.chalice = Chalice(stack, f"{construct_id}Chalice", source_dir=source_dir, stage_config=stage_config)
        self.functions = self._functions()
        self.log_groups: dict[str, logs.LogGroup] = {}
        for function in self.functions:
            resource = self.chalice.get_resource(function.logical_id)
            role = self.migrate_role if function.logical_id == MIGRATE_FUNCTION else self.api_role
            # A log group per function, created (with retention) before the
            # function and named by CloudFormation; the role may write there only.
            log_group = logs.LogGroup(
                self, f"{function.logical_id}Logs", retention=log_retention, removal_policy=removal_policy
            )
            log_group.grant_write(role)
            resource.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})
            self.log_groups[function.logical_id] = log_group
            if function.scheduled:
                resource.add_property_override("Timeout", job_timeout_seconds)
        migrate = self.chalice.get_resource(MIGRATE_FUNCTION)
        migrate.add_property_override("Role", self.migrate_role.role_arn)
        migrate.add_property_override("Timeout", MIGRATE_TIMEOUT_SECONDS)
        for name, value in migrate_environment.items():
            migrate.add_property_override(f"Environment.Variables.{name}", value)

        rest_api = self.chalice.get_resource("RestAPI")
        # Name the API after the stack (no literal name): API Gateway metrics are keyed by name.
        self.api_name = cdk.Aws.STACK_NAME
        self.api_stage = API_STAGE
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        rest_api.add_property_override("Name", self.api_name)
        rest_api.add_property_override("TracingEnabled", True)
        rest_api.add_property_override(
            "AccessLogSetting", {"DestinationArn": self.access_logs.log_group_arn, "Format": _ACCESS_LOG_FORMAT}
        )
        rest_api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": throttle_rate,
                    "ThrottlingBurstLimit": throttle_burst,
                    "LoggingLevel": "ERROR",
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                }
            ],
        )
        # Execution logging needs the (regional, account-wide) API Gateway
        # CloudWatch role; the stage must wait for it.
        self.gateway_logs_role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
            ],
        )
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=self.gateway_logs_role.role_arn)
        account.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        rest_api.add_resource_dependency(account)

    def function(self, logical_id: str):
        """The imported ``IFunction`` for a generated function (e.g. ``Migrate``)."""
        return self.chalice.get_function(logical_id)

    def _function_role(self, construct_id: str, description: str) -> iam.Role:
        role = iam.Role(
            self, construct_id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )
        # Lambda attaches VPC network interfaces and sends X-Ray segments with
        # the function's role; neither service supports resource-level scoping.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                ],
                resources=["*"],
            )
        )
        return role

    def _functions(self) -> tuple[AppFunction, ...]:
        # chalice.cdk keeps the SAM template it generated next to the package;
        # read it to learn which functions exist (schedules come and go with
        # the blueprints merged into runtime/).
        with open(os.path.join(self.chalice._sam_package_dir, "sam.json"), encoding="utf-8") as handle:
            resources = json.load(handle)["Resources"]
        found = []
        for logical_id, resource in sorted(resources.items()):
            if resource["Type"] != "AWS::Serverless::Function":
                continue
            events = resource["Properties"].get("Events") or {}
            scheduled = any(event.get("Type") == "Schedule" for event in events.values())
            found.append(AppFunction(logical_id, scheduled, self.chalice.get_resource(logical_id).ref))
        return tuple(found)
