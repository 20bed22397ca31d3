"""The VPC (imported or created), the security groups and the VPC endpoints.

Lambdas run in private subnets with no route to the internet; they reach
DynamoDB through a gateway endpoint and Secrets Manager and SES through
interface endpoints. Security groups allow only the paths the system uses:

    lambda ──5432──► proxy ──5432──► database ◄──5432── secret rotation
    lambda, rotation ──443──► interface endpoints
"""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_app.config import ImportedVpc

POSTGRES_PORT = 5432
HTTPS_PORT = 443


class Network(Construct):
    """VPC, security groups (lambda, proxy, database, rotation, endpoints) and endpoints.

    Exposes ``vpc``, ``app_subnets`` and the security groups ``lambda_sg``,
    ``proxy_sg``, ``database_sg``, ``rotation_sg``, plus ``secrets_manager_endpoint``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        imported_vpc: ImportedVpc | None,
        availability_zones: tuple[str, ...],
        vpc_cidr: str,
        flow_log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if imported_vpc is None:
            self.vpc: ec2.IVpc = self._create_vpc(availability_zones, vpc_cidr, flow_log_retention, removal_policy)
            self.app_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        else:
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=imported_vpc.vpc_id,
                availability_zones=list(availability_zones),
                private_subnet_ids=list(imported_vpc.private_subnet_ids),
                private_subnet_route_table_ids=list(imported_vpc.private_subnet_route_table_ids),
            )
            self.app_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        self.lambda_sg = self._group("LambdaSecurityGroup", "Chalice functions: egress to the proxy and AWS endpoints")
        self.proxy_sg = self._group("ProxySecurityGroup", "RDS Proxy: from the functions, to the database")
        self.database_sg = self._group("DatabaseSecurityGroup", "Aurora: from the proxy and secret rotation only")
        self.rotation_sg = self._group("RotationSecurityGroup", "Secrets Manager rotation functions")
        endpoint_sg = self._group("EndpointSecurityGroup", "Interface endpoints: HTTPS from the functions")

        postgres = ec2.Port.tcp(POSTGRES_PORT)
        https = ec2.Port.tcp(HTTPS_PORT)
        self.proxy_sg.add_ingress_rule(self.lambda_sg, postgres, "functions to the proxy")
        self.lambda_sg.add_egress_rule(self.proxy_sg, postgres, "functions to the proxy")
        self.database_sg.add_ingress_rule(self.proxy_sg, postgres, "proxy to the database")
        self.proxy_sg.add_egress_rule(self.database_sg, postgres, "proxy to the database")
        self.database_sg.add_ingress_rule(self.rotation_sg, postgres, "rotation changes passwords")
        self.rotation_sg.add_egress_rule(self.database_sg, postgres, "rotation changes passwords")
        for client in (self.lambda_sg, self.rotation_sg):
            endpoint_sg.add_ingress_rule(client, https, "AWS APIs through interface endpoints")
            # The DynamoDB gateway endpoint is reached by prefix list, whose id
            # would need a lookup; with no internet route, 443 egress reaches
            # only the VPC's endpoints anyway.
            client.add_egress_rule(ec2.Peer.any_ipv4(), https, "AWS APIs through VPC endpoints")

        self.vpc.add_gateway_endpoint(
            "DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.app_subnets]
        )
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=self.app_subnets,
            security_groups=[endpoint_sg],
            open=False,
            private_dns_enabled=True,
        )
        self.ses_endpoint = self.vpc.add_interface_endpoint(
            "SesEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.EMAIL,
            subnets=self.app_subnets,
            security_groups=[endpoint_sg],
            open=False,
            private_dns_enabled=True,
        )

    def _group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    def _create_vpc(
        self,
        availability_zones: tuple[str, ...],
        cidr: str,
        flow_log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> ec2.Vpc:
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention, removal_policy=removal_policy)
        return ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
