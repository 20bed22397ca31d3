"""Aurora Serverless v2 PostgreSQL behind RDS Proxy, with rotated credentials.

Two logins exist: the cluster master (migrations, role creation) and
``saas_app_user`` (the runtime; created by ``roles.sql``, its password set by
the migration runner from the secret declared here). Both secrets are
registered with the proxy, which requires TLS and IAM authentication: the
functions never hold a database password, they sign a short-lived token.

Both secrets rotate on a schedule ordered after the DB instances (a rotation
needs a database to log in to), and the rotation functions' logs get the
environment's retention.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from chalicelib.core.contract import APP_LOGIN, DATABASE_NAME, MASTER_LOGIN
from stacks.nag import LAMBDA_BASIC, LOG_RETENTION_SINGLETON, acknowledge, stack_singletons

# Characters that need quoting in a libpq conninfo or a shell.
_EXCLUDED_PASSWORD_CHARS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"


class Database(Construct):
    """Aurora cluster (writer + one reader scaling with it), RDS Proxy and the two DB secrets.

    Exposes ``cluster``, ``proxy``, ``master_secret`` and ``app_user_secret``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        database_sg: ec2.ISecurityGroup,
        proxy_sg: ec2.ISecurityGroup,
        rotation_sg: ec2.ISecurityGroup,
        secrets_manager_endpoint: ec2.IInterfaceVpcEndpoint | None,
        key: kms.IKey,
        engine_version: str,
        min_acu: float,
        max_acu: float,
        backup_retention_days: int,
        log_retention: logs.RetentionDays,
        rotation_days: int,
        deletion_protection: bool,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseClusterEngine.aurora_postgres(
            version=rds.AuroraPostgresEngineVersion.of(engine_version, engine_version.split(".")[0])
        )
        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="TLS only; slow statements logged",
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "500"},
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            parameter_group=parameters,
            credentials=rds.Credentials.from_generated_secret(
                MASTER_LOGIN, encryption_key=key, exclude_characters=_EXCLUDED_PASSWORD_CHARS
            ),
            default_database_name=DATABASE_NAME,
            writer=rds.ClusterInstance.serverless_v2(
                "Writer",
                enable_performance_insights=True,
                performance_insight_encryption_key=key,
                publicly_accessible=False,
            ),
            readers=[
                rds.ClusterInstance.serverless_v2(
                    "Reader",
                    scale_with_writer=True,
                    enable_performance_insights=True,
                    performance_insight_encryption_key=key,
                    publicly_accessible=False,
                )
            ],
            serverless_v2_min_capacity=min_acu,
            serverless_v2_max_capacity=max_acu,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[database_sg],
            storage_encrypted=True,
            storage_encryption_key=key,
            iam_authentication=True,
            backup=rds.BackupProps(retention=cdk.Duration.days(backup_retention_days), preferred_window="03:00-04:00"),
            preferred_maintenance_window="Sun:04:30-Sun:05:30",
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=log_retention,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
            copy_tags_to_snapshot=True,
        )
        assert self.cluster.secret is not None, "generated credentials: the cluster made a secret"
        self.master_secret: secretsmanager.ISecret = self.cluster.secret
        self.app_user_secret: secretsmanager.ISecret = rds.DatabaseSecret(
            self,
            "AppUserSecret",
            username=APP_LOGIN,
            encryption_key=key,
            exclude_characters=_EXCLUDED_PASSWORD_CHARS,
        ).attach(self.cluster)

        rotate_every = cdk.Duration.days(rotation_days)
        # endpoint=None: the VPC's existing endpoint, by its private DNS name.
        master_rotation = self.cluster.add_rotation_single_user(
            automatically_after=rotate_every,
            security_group=rotation_sg,
            vpc_subnets=subnets,
            endpoint=secrets_manager_endpoint,
            exclude_characters=_EXCLUDED_PASSWORD_CHARS,
        )
        app_user_rotation = secretsmanager.SecretRotation(
            self,
            "AppUserRotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=self.app_user_secret,
            target=self.cluster,
            vpc=vpc,
            vpc_subnets=subnets,
            security_group=rotation_sg,
            endpoint=secrets_manager_endpoint,
            automatically_after=rotate_every,
            exclude_characters=_EXCLUDED_PASSWORD_CHARS,
            # The login is created by the first deploy-time migration, in the
            # stateless stack: rotating before it exists would fail.
            rotate_immediately_on_update=False,
        )
        self.rotation_log_retention = [
            self._rotation_log_retention(rotation, log_retention) for rotation in (master_rotation, app_user_rotation)
        ]
        # The master secret rotates as soon as its schedule exists: not before
        # the instances it logs in to (the cluster alone is not enough).
        instances = [child for child in self.cluster.node.find_all() if isinstance(child, rds.CfnDBInstance)]
        for schedule in self.node.find_all():
            if isinstance(schedule, secretsmanager.CfnRotationSchedule):
                for instance in instances:
                    schedule.add_resource_dependency(instance)

        self.proxy: rds.DatabaseProxy = self.cluster.add_proxy(
            "Proxy",
            # Required by CloudFormation and unique per account and region:
            # derive it from the stack name (CDK would default to "Proxy").
            db_proxy_name=cdk.Fn.join("-", [cdk.Aws.STACK_NAME, "proxy"]),
            secrets=[self.master_secret, self.app_user_secret],
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[proxy_sg],
            require_tls=True,
            iam_auth=True,
            debug_logging=False,
        )
        if not deletion_protection:
            acknowledge(
                self.cluster,
                "RDS10",
                "Deletion protection is off by this environment's configuration (cdk.json deletion_protection), "
                "so it is disposable; staging and prod enable it (cdk_app.config refuses prod without it).",
            )
        # The log exports' and the rotation functions' retention is set by CDK's log-retention function.
        for function in stack_singletons(self, LOG_RETENTION_SINGLETON):
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

    def _rotation_log_retention(self, rotation: secretsmanager.SecretRotation, retention: logs.RetentionDays):
        """Retention on the log group of a rotation function (deployed by its SAR application).

        The function's name is only known from the application's output; CDK's
        LogRetention resource sets retention whether or not the function has
        logged (and so created the group) yet.
        """
        application = rotation.node.default_child
        assert isinstance(application, cdk.CfnResource), "a SecretRotation's default child is its SAR application"
        function_arn = application.get_att("Outputs.RotationLambdaARN").to_string()
        return logs.LogRetention(
            self,
            f"{rotation.node.id}Logs",
            log_group_name=cdk.Fn.join("", ["/aws/lambda/", cdk.Fn.select(6, cdk.Fn.split(":", function_arn))]),
            retention=retention,
        )
