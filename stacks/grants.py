"""Grants from the stateless stack's roles to stateful resources, written out by ARN.

The L2 ``grant_*`` helpers would either widen the grant (``index/*`` on every
table, ``kms:GenerateDataKey*``) or, for secrets encrypted with a customer key,
name the role in the key policy — a reference from the stateful stack back to
the stateless one. The key policy already delegates to IAM, so the role's own
policy is enough, scoped with ``kms:ViaService`` to the service using the key.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager

from chalicelib.core.contract import SealedPurpose
from chalicelib.core.tables import TableSpec

# What the runtime calls (grep runtime/ for the boto3 methods): no BatchGetItem,
# no transactions (ConditionCheckItem), no Scan, and no BatchWriteItem since
# migration 0044 moved sessions to PostgreSQL. Add an action with its caller.
TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
)


def _via(service: str, role: iam.IRole) -> dict:
    return {"StringEquals": {"kms:ViaService": f"{service}.{cdk.Stack.of(role).region}.amazonaws.com"}}


def table_read_write(role: iam.IRole, table: dynamodb.ITable, spec: TableSpec, key: kms.IKey) -> None:
    """Item reads and writes on ``table`` and its declared indexes (by name), and the key via DynamoDB."""
    resources = [table.table_arn] + [f"{table.table_arn}/index/{index.name}" for index in spec.indexes]
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(TABLE_ACTIONS), resources=resources))
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[key.key_arn],
            conditions=_via("dynamodb", role),
        )
    )


def secret(role: iam.IRole, secret: secretsmanager.ISecret, key: kms.IKey, *, write: bool = False) -> None:
    """Read (and with ``write``, put new versions of) one secret, and the key via Secrets Manager."""
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    key_actions = ["kms:Decrypt"]
    if write:
        actions.append("secretsmanager:PutSecretValue")
        key_actions += ["kms:Encrypt", "kms:GenerateDataKey"]
    role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[secret.secret_arn]))
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=key_actions, resources=[key.key_arn], conditions=_via("secretsmanager", role))
    )


def sealing(role: iam.IRole, key: kms.IKey) -> None:
    """Direct ``kms:Encrypt``/``kms:Decrypt`` for ``auth.secret_box``, only for the contract's sealing purposes.

    No ``kms:ViaService`` here (the runtime itself calls KMS); instead the
    encryption context must carry a ``purpose`` of ``contract.SealedPurpose``,
    so the role cannot decrypt directly what DynamoDB, Secrets Manager or SQS
    encrypted with the same key. Not ``key.grant_encrypt_decrypt``: that adds
    ``kms:ReEncrypt*`` and ``kms:GenerateDataKey*`` without any condition.
    """
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:Decrypt"],
            resources=[key.key_arn],
            conditions={
                "StringEquals": {"kms:EncryptionContext:purpose": sorted(purpose.value for purpose in SealedPurpose)}
            },
        )
    )
