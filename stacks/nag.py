"""cdk-nag (AwsSolutions) acknowledgements: the helper each construct uses for its own findings.

cdk-nag runs as a CDK validation plugin (``stacks.app.build``): synthesis
fails on any finding not acknowledged. Each acknowledgement is made by the
construct that creates the resource it is about, on the narrowest construct,
with its reason; nothing is acknowledged at stack level. The Chalice
resources are SAM (``AWS::Serverless::*``), which cdk-nag does not inspect;
``tests/infra`` asserts their settings.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

PACK = "AwsSolutions::AwsSolutions"
LAMBDA_BASIC = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
# The construct ids CDK gives its stack-wide singleton functions.
LOG_RETENTION_SINGLETON = "LogRetention"  # sets retention on log groups services create
AWS_CUSTOM_RESOURCE_SINGLETON = "AWS679f53fac002430cb0da5b7982bd2287"  # behind every AwsCustomResource


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``rule`` like ``IAM5[Resource::*]``) on ``construct``."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"{PACK}-{rule}", reason=reason))


def stack_singletons(scope: IConstruct, id_prefix: str) -> list[IConstruct]:
    """The singleton functions CDK put at the top of ``scope``'s stack (a construct only causes them)."""
    stack = cdk.Stack.of(scope)
    return [child for child in stack.node.children if child.node.id.startswith(id_prefix)]
