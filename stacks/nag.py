"""cdk-nag (AwsSolutions) acknowledgements, each on the narrowest construct, each with its reason.

cdk-nag runs as a CDK validation plugin (``stacks.app.build``): synthesis
fails on any finding not acknowledged here. Nothing is acknowledged at stack
level. Note that the Chalice resources are SAM (``AWS::Serverless::*``),
which cdk-nag does not inspect; ``tests/infra`` asserts their settings.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

from cdk_app.config import EnvironmentConfig

PACK = "AwsSolutions::AwsSolutions"
LAMBDA_BASIC = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"

ENI_AND_XRAY = (
    "Lambda creates and deletes the VPC network interfaces and sends X-Ray segments with the function's role; "
    "ec2:*NetworkInterface*/DescribeSubnets and xray:Put* do not support resource-level permissions."
)


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``rule`` like ``IAM5[Resource::*]``) on ``construct``."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PACK}-{rule}", reason=reason))


def _log_retention_functions(stack: cdk.Stack) -> list[IConstruct]:
    # CDK's singleton that sets retention on log groups created by services (RDS log exports).
    return [child for child in stack.node.children if child.node.id.startswith("LogRetention")]


def _aws_custom_resource_functions(stack: cdk.Stack) -> list[IConstruct]:
    # CDK's singleton behind AwsCustomResource (construct id AWS + a fixed uuid).
    return [child for child in stack.node.children if child.node.id.startswith("AWS679f53fac002430cb0da5b7982bd2287")]


def suppress_stateful(stack, config: EnvironmentConfig) -> None:
    if not config.deletion_protection:
        acknowledge(
            stack.database.cluster,
            "RDS10",
            f"Environment {config.name!r} is disposable by configuration; staging and prod enable deletion protection "
            "(cdk_app.config refuses prod without it).",
        )
    for function in _log_retention_functions(stack):
        role = function.node.find_child("ServiceRole")
        acknowledge(
            role,
            f"IAM4[{LAMBDA_BASIC}]",
            "CDK's log-retention helper only writes its own logs; the AWS basic execution policy is exactly that.",
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "IAM5[Resource::*]",
            "CDK's log-retention helper sets retention on the log groups RDS creates for its log exports; "
            "their names are only known once the cluster exists.",
        )
    for function in _aws_custom_resource_functions(stack):
        acknowledge(
            function.node.find_child("ServiceRole"),
            f"IAM4[{LAMBDA_BASIC}]",
            "CDK's AwsCustomResource function only writes its own logs; "
            "the AWS basic execution policy is exactly that.",
        )
    acknowledge(
        stack.network.prefix_list_lookup.node.find_child("CustomResourcePolicy"),
        "IAM5[Resource::*]",
        "ec2:DescribeManagedPrefixLists (the deploy-time lookup of DynamoDB's prefix list id for the functions' "
        "egress rule) does not support resource-level permissions.",
    )
    rotation_reason = (
        "Rotated by the documented procedure in docs/DEPLOYMENT.md (Rotating secrets), not by a rotation Lambda: {why}"
    )
    acknowledge(
        stack.secrets.jwt_secret,
        "SMG4",
        rotation_reason.format(
            why="a JWT key rotation must keep the previous kid valid for the 24-hour token lifetime, "
            "which the runtime's {current, previous} document encodes and a generic rotation Lambda cannot."
        ),
    )
    acknowledge(
        stack.secrets.pepper_secret,
        "SMG4",
        rotation_reason.format(
            why="the pepper only keys the 4-hour API-key verification cache; rotating it empties the cache, "
            "so it is rotated deliberately, not on a schedule."
        ),
    )


def suppress_stateless(stack, config: EnvironmentConfig) -> None:
    api = stack.api
    for role in (api.api_role, api.migrate_role):
        acknowledge(role.node.find_child("DefaultPolicy"), "IAM5[Resource::*]", ENI_AND_XRAY)
    acknowledge(
        api.gateway_logs_role,
        "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "The account-level role API Gateway uses to write execution and access logs; AWS's managed policy "
        "is the documented, minimal set for it.",
    )
    acknowledge(
        api.job_dead_letters,
        "SQS3",
        "This queue is itself the dead-letter queue of the scheduled functions' asynchronous invocations "
        "(Lambda DeadLetterQueue), which cdk-nag cannot see on SAM functions; it alarms on any visible message.",
    )
    framework = stack.migrations.provider.node.find_child("framework-onEvent")
    framework_role = framework.node.find_child("ServiceRole")
    acknowledge(
        framework_role, f"IAM4[{LAMBDA_BASIC}]", "CDK's custom-resource provider function only writes its own logs."
    )
    acknowledge(
        framework_role.node.find_child("DefaultPolicy"),
        "IAM5[Resource::<Migrate.Arn>:*]",
        "The provider may invoke the migrate function's versions and aliases; it is still that one function.",
    )
