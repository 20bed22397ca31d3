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

Chalice packages for the Lambda Python version pinned in cdk.json
(``stacks.lambda_python``), whatever interpreter runs the synth. Every
function waits for its role's policies (``DependsOn``): Lambda checks the
VPC (ENI) permissions and the dead-letter queue permission when it creates
the function, and ``Fn::GetAtt`` on the role alone does not order the
separate policy resource before it. The API answers in the contract's error
shape even when API Gateway itself answers (throttling, unknown route,
integration timeout): see :data:`GATEWAY_RESPONSES`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sam as sam
from aws_cdk import aws_sqs as sqs
from chalice.app import ScheduledEventConfig
from chalice.cdk import Chalice
from chalice.cli.factory import CLIFactory
from constructs import Construct

from chalicelib.core import contract
from stacks.lambda_python import packaging_for
from stacks.nag import acknowledge

API_STAGE = "api"
# API Gateway gives up on an integration after 29 s.
API_TIMEOUT_SECONDS = 29
MIGRATE_TIMEOUT_SECONDS = 300
# Chalice writes a Swagger 2.0 DefinitionBody. Declaring its version also stops
# SAM from creating its extra stage named "Stage" (no throttling, logs or
# alarms): https://github.com/aws/serverless-application-model/issues/191.
OPEN_API_VERSION = "2.0"
# POST /webhooks/stripe is public (Stripe signs it): its own, lower limit, so a flood of forged
# deliveries cannot use up the stage's rate for everyone else. Stripe retries a 429 for days.
STRIPE_WEBHOOK_RESOURCE_PATH = "/~1webhooks~1stripe"  # "/webhooks/stripe", with "/" written "~1"
STRIPE_WEBHOOK_THROTTLE_RATE = 20
STRIPE_WEBHOOK_THROTTLE_BURST = 40
# How long a failed scheduled run's event is kept in the dead-letter queue.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


def _gateway_response(status: int | None, code: str, *, retry_after: int | None = None) -> dict:
    """A gateway response in the contract's error shape, with X-Request-Id (and Retry-After)."""
    headers = {"gatewayresponse.header.X-Request-Id": "context.requestId"}
    if retry_after is not None:
        headers["gatewayresponse.header.Retry-After"] = f"'{retry_after}'"
    # $context.error.messageString is API Gateway's message, already a quoted JSON string.
    template = '{"Code": "%s", "Message": $context.error.messageString}' % code  # noqa: UP031 - keeps JSON braces
    response: dict[str, object] = {"responseParameters": headers, "responseTemplates": {"application/json": template}}
    if status is not None:
        response["statusCode"] = str(status)
    return response


# What API Gateway answers itself, before (or instead of) the Lambda function:
# the contract's {"Code", "Message"} body, X-Request-Id, and Retry-After on 429.
# MISSING_AUTHENTICATION_TOKEN is API Gateway's answer to an unknown route or
# method (the API has no IAM auth): it becomes the 404 the contract means.
GATEWAY_RESPONSES = {
    "THROTTLED": _gateway_response(429, "TooManyRequestsError", retry_after=1),
    "QUOTA_EXCEEDED": _gateway_response(429, "TooManyRequestsError", retry_after=60),
    "MISSING_AUTHENTICATION_TOKEN": _gateway_response(404, "NotFoundError"),
    "RESOURCE_NOT_FOUND": _gateway_response(404, "NotFoundError"),
    "ACCESS_DENIED": _gateway_response(403, "ForbiddenError"),
    "WAF_FILTERED": _gateway_response(403, "ForbiddenError"),
    "BAD_REQUEST_BODY": _gateway_response(400, "BadRequestError"),
    "BAD_REQUEST_PARAMETERS": _gateway_response(400, "BadRequestError"),
    "REQUEST_TOO_LARGE": _gateway_response(413, "PayloadTooLargeError"),
    "UNSUPPORTED_MEDIA_TYPE": _gateway_response(415, "UnsupportedMediaTypeError"),
    "INTEGRATION_TIMEOUT": _gateway_response(504, "GatewayTimeoutError"),
    "INTEGRATION_FAILURE": _gateway_response(502, "BadGatewayError"),
    # Everything else keeps API Gateway's status (e.g. 502 for a function error).
    "DEFAULT_4XX": _gateway_response(None, "BadRequestError"),
    "DEFAULT_5XX": _gateway_response(None, "InternalServerError"),
}

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
    """One Lambda function Chalice generated: its SAM logical id and the schedule that runs it, if any."""

    logical_id: str
    schedule: str | None  # e.g. "rate(5 minutes)", "cron(0 2 1 * ? *)"
    name: str  # a token resolving to the function name (Ref)

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None


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
        python_version: str,
        key: kms.IKey,
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
        with packaging_for(python_version):
            self.chalice = Chalice(stack, f"{construct_id}Chalice", source_dir=source_dir, stage_config=stage_config)
        self.functions = self._functions(source_dir)

        # Scheduled runs are asynchronous invocations: one that still fails
        # after Lambda's retries lands here (and alarms) instead of vanishing.
        self.job_dead_letters = sqs.Queue(
            self,
            "JobDeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.job_dead_letters,
            "SQS3",
            "This queue is itself the dead-letter queue of the scheduled functions' asynchronous invocations "
            "(Lambda DeadLetterQueue), which cdk-nag cannot see on SAM functions; it alarms on any visible message.",
        )
        self.api_role.add_to_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.job_dead_letters.queue_arn])
        )
        self.api_role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{stack.region}.amazonaws.com"}},
            )
        )

        self.log_groups: dict[str, logs.LogGroup] = {}
        for function in self.functions:
            resource = self.chalice.get_resource(function.logical_id)
            role = self.migrate_role if function.logical_id == contract.MIGRATE.logical_id else self.api_role
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
                resource.add_property_override(
                    "DeadLetterQueue", {"Type": "SQS", "TargetArn": self.job_dead_letters.queue_arn}
                )
            # Every statement granted to the role lands in its one DefaultPolicy
            # (grants added later included): the function is created after it.
            resource.add_resource_dependency(role.node.find_child("DefaultPolicy").node.default_child)
        migrate = self.chalice.get_resource(contract.MIGRATE.logical_id)
        migrate.add_property_override("Role", self.migrate_role.role_arn)
        migrate.add_property_override("Timeout", MIGRATE_TIMEOUT_SECONDS)
        for name, value in migrate_environment.items():
            migrate.add_property_override(f"Environment.Variables.{name}", value)

        rest_api = self.chalice.get_resource("RestAPI")
        # Name the API after the stack (no literal name): API Gateway metrics are keyed by name.
        self.api_name = cdk.Aws.STACK_NAME
        self.api_stage = API_STAGE
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        rest_api.add_property_override("Name", self.api_name)
        rest_api.add_property_override("OpenApiVersion", OPEN_API_VERSION)
        # In the definition itself, so SAM's deployment (keyed on the body) carries them.
        rest_api.add_property_override("DefinitionBody.x-amazon-apigateway-gateway-responses", GATEWAY_RESPONSES)
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
                },
                {
                    "ResourcePath": STRIPE_WEBHOOK_RESOURCE_PATH,
                    "HttpMethod": "POST",
                    "ThrottlingRateLimit": min(STRIPE_WEBHOOK_THROTTLE_RATE, throttle_rate),
                    "ThrottlingBurstLimit": min(STRIPE_WEBHOOK_THROTTLE_BURST, throttle_burst),
                    "LoggingLevel": "ERROR",
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                },
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
        acknowledge(
            self.gateway_logs_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level role API Gateway uses to write execution and access logs; AWS's managed policy "
            "is the documented, minimal set for it.",
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
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "IAM5[Resource::*]",
            "Lambda creates and deletes the VPC network interfaces and sends X-Ray segments with the function's "
            "role; ec2:*NetworkInterface*/DescribeSubnets and xray:Put* do not support resource-level permissions.",
        )
        return role

    def _functions(self, source_dir: str) -> tuple[AppFunction, ...]:
        """Every function in the included SAM template, with its schedule (functions come and go with blueprints).

        The functions are the ``AWS::Serverless::Function`` resources of
        ``self.chalice.sam_template`` (the public ``CfnInclude``); their
        schedules come from the Chalice app's own event sources (the app is
        already imported by the packaging), matched by handler.
        """
        chalice_app = CLIFactory(project_dir=source_dir).load_chalice_app()
        schedules = {
            source.handler_string: (
                source.schedule_expression
                if isinstance(source.schedule_expression, str)
                else source.schedule_expression.to_string()
            )
            for source in chalice_app.event_sources
            if isinstance(source, ScheduledEventConfig)
        }
        found = [
            AppFunction(child.node.id, schedules.get(child.handler) if child.handler else None, child.ref)
            for child in self.chalice.sam_template.node.children
            if isinstance(child, sam.CfnFunction)
        ]
        return tuple(sorted(found, key=lambda function: function.logical_id))
