"""The customer-managed KMS key that encrypts the database, tables, secrets and alarm topic."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class EncryptionKey(Construct):
    """One symmetric key with yearly automatic rotation; exposes ``key``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, environment: str, removal_policy: cdk.RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"SaaS platform data key ({environment})",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(30),
        )
        # CloudWatch alarms publish to the SNS topic encrypted with this key:
        # only this account's alarms (confused-deputy guard).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
