"""Stateful stack: everything that holds data or identity. Deployed rarely, never torn down in prod."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_app.config import EnvironmentConfig
from stacks.constructs.app_secrets import AppSecrets
from stacks.constructs.database import Database
from stacks.constructs.encryption import EncryptionKey
from stacks.constructs.network import Network
from stacks.constructs.tables import Tables


def removal_policy(config: EnvironmentConfig) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY


_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def retention(config: EnvironmentConfig) -> logs.RetentionDays:
    """The CloudWatch Logs retention for ``config.log_retention_days`` (one of CloudWatch's fixed values)."""
    try:
        return _RETENTION[config.log_retention_days]
    except KeyError:
        raise ValueError(f"log_retention_days must be one of {sorted(_RETENTION)}") from None


class StatefulStack(cdk.Stack):
    """KMS key, network, Aurora + RDS Proxy, secrets and DynamoDB tables; exposes each construct."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        policy = removal_policy(config)
        self.encryption = EncryptionKey(self, "Encryption", environment=config.name, removal_policy=policy)
        self.network = Network(
            self,
            "Network",
            imported_vpc=config.vpc,
            availability_zones=config.availability_zones,
            vpc_cidr=config.vpc_cidr,
            nat_gateways=config.nat_gateways,
            flow_log_retention=retention(config),
            removal_policy=policy,
        )
        self.database = Database(
            self,
            "Database",
            vpc=self.network.vpc,
            subnets=self.network.app_subnets,
            database_sg=self.network.database_sg,
            proxy_sg=self.network.proxy_sg,
            rotation_sg=self.network.rotation_sg,
            secrets_manager_endpoint=self.network.secrets_manager_endpoint,
            key=self.encryption.key,
            engine_version=config.aurora_engine_version,
            min_acu=config.aurora_min_acu,
            max_acu=config.aurora_max_acu,
            backup_retention_days=config.backup_retention_days,
            log_retention=retention(config),
            rotation_days=config.db_rotation_days,
            deletion_protection=config.deletion_protection,
            removal_policy=policy,
        )
        self.secrets = AppSecrets(
            self,
            "AppSecrets",
            key=self.encryption.key,
            jwt_secret_name=config.jwt_secret_name,
            pepper_secret_name=config.pepper_secret_name,
            stripe_secret_name=config.stripe_secret_name,
            stripe_webhook_secret_name=config.stripe_webhook_secret_name,
            removal_policy=policy,
        )
        self.tables = Tables(self, "Tables", key=self.encryption.key, removal_policy=policy)
