"""The DynamoDB tables, declared from the same specs the local stack uses (``core/tables.py``)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from chalicelib.core.tables import ALL_TABLES, TableSpec


def _key(name: str | None) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING) if name else None


class Tables(Construct):
    """On-demand tables with TTL, point-in-time recovery and the customer-managed key.

    Exposes ``tables`` and ``specs``, keyed by logical name (``cache``, ``sessions``, ``metrics``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        removal_policy: cdk.RemovalPolicy,
        specs: tuple[TableSpec, ...] = ALL_TABLES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        self.specs: dict[str, TableSpec] = {spec.logical_name: spec for spec in specs}
        for spec in specs:
            table = dynamodb.Table(
                self,
                spec.logical_name.capitalize(),
                partition_key=_key(spec.partition_key),
                sort_key=_key(spec.sort_key),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                time_to_live_attribute=spec.ttl_attribute,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                removal_policy=removal_policy,
                deletion_protection=removal_policy == cdk.RemovalPolicy.RETAIN,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_key(index.partition_key),
                    sort_key=_key(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.tables[spec.logical_name] = table
