"""The VPC (imported or created), the security groups and the VPC endpoints.

Lambdas run in private subnets; they reach DynamoDB through a gateway endpoint
and Secrets Manager, SES and KMS through interface endpoints. Security groups
allow only the paths the system uses, in and out:

    lambda ──5432──► proxy ──5432──► database ◄──5432── secret rotation
    lambda, proxy, rotation ──443──► Secrets Manager / SES interface endpoints
    lambda ──443──► KMS interface endpoint (its own group: nothing else reaches it)
    lambda ──443──► DynamoDB (its AWS-managed prefix list, via the gateway endpoint)
    lambda ──443──► 0.0.0.0/0 (Stripe's API, tenants' webhook endpoints: through a NAT gateway)

The functions call KMS themselves to seal and open users' TOTP secrets
(``auth.secret_box``); the proxy and rotation never do (Secrets Manager uses
the key on its own side), so the KMS endpoint has a group of its own that
admits the functions only, rather than sharing the group the proxy and
rotation reach.

RDS Proxy fetches the database secrets with its own network interfaces, so
its group reaches the Secrets Manager endpoint too.

The functions call Stripe's API and tenants' webhook endpoints, which have no
endpoint and no prefix list, so their group alone has one CIDR rule: TCP 443
to 0.0.0.0/0 (HTTPS only; the webhook sender refuses hosts that resolve to
non-public addresses). No other port or group gets a CIDR rule, and AWS
services keep going through their endpoints (private DNS, the gateway route).
A created VPC routes its private subnets' 0.0.0.0/0 through ``nat_gateways``
NAT gateways in small public subnets that hold nothing else; an imported VPC's
private subnets must already route 0.0.0.0/0 through a NAT or an egress
firewall (docs/DEPLOYMENT.md, "Network ids"). IPv4 only: neither VPC kind
gives the functions IPv6 (a created VPC has none; Lambda is not dual-stack here).

In an imported VPC each endpoint is a switch (``vpc.endpoints`` in cdk.json):
``true`` creates it here; an existing interface endpoint is given by its
security group, to which this stack adds the 443 ingress from its groups; an
existing DynamoDB gateway endpoint is ``false``. A created VPC gets all four.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk_app.config import ENDPOINTS, ImportedVpc
from stacks.nag import AWS_CUSTOM_RESOURCE_SINGLETON, LAMBDA_BASIC, acknowledge, stack_singletons

POSTGRES_PORT = 5432
HTTPS_PORT = 443
# EC2 refuses an apostrophe in a rule description (a-z A-Z 0-9 space ._-:/()#,@[]+=&;{}!$*).
INTERNET_EGRESS_DESCRIPTION = (
    "Stripe API and tenant webhook endpoints (HTTPS only; webhooks check resolved addresses are public)"
)

_INTERFACE_SERVICES = {
    "secretsmanager": ("SecretsManagerEndpoint", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
    "email": ("SesEndpoint", ec2.InterfaceVpcEndpointAwsService.EMAIL),
    "kms": ("KmsEndpoint", ec2.InterfaceVpcEndpointAwsService.KMS),
}


class Network(Construct):
    """VPC, security groups (lambda, proxy, database, rotation, endpoints) and endpoints.

    Exposes ``vpc``, ``app_subnets`` and the security groups ``lambda_sg``,
    ``proxy_sg``, ``database_sg``, ``rotation_sg``, ``endpoint_sg`` (Secrets
    Manager and SES), ``kms_endpoint_sg`` (the KMS endpoint's, functions only;
    ``None`` when the VPC already has that endpoint), plus
    ``secrets_manager_endpoint`` (``None`` when the VPC already has one) and
    ``endpoints`` (service → the created endpoint, for those created here).
    ``nat_gateways`` applies to a created VPC only; an imported one brings its own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        imported_vpc: ImportedVpc | None,
        availability_zones: tuple[str, ...],
        vpc_cidr: str,
        nat_gateways: int,
        flow_log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        if imported_vpc is None:
            self.vpc: ec2.IVpc = self._create_vpc(
                availability_zones, vpc_cidr, nat_gateways, flow_log_retention, removal_policy
            )
            self.app_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
            switches: dict[str, bool | str] = dict.fromkeys(ENDPOINTS, True)
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
            switches = dict(imported_vpc.endpoints)

        self.lambda_sg = self._group("LambdaSecurityGroup", "Chalice functions: egress to the proxy and AWS endpoints")
        self.proxy_sg = self._group("ProxySecurityGroup", "RDS Proxy: from the functions, to the database")
        self.database_sg = self._group("DatabaseSecurityGroup", "Aurora: from the proxy and secret rotation only")
        self.rotation_sg = self._group("RotationSecurityGroup", "Secrets Manager rotation functions")
        self.endpoint_sg = self._group("EndpointSecurityGroup", "Interface endpoints: HTTPS from the functions")
        self.kms_endpoint_sg: ec2.SecurityGroup | None = (
            self._group("KmsEndpointSecurityGroup", "KMS interface endpoint: HTTPS from the functions only")
            if switches["kms"] is True
            else None
        )

        postgres = ec2.Port.tcp(POSTGRES_PORT)
        https = ec2.Port.tcp(HTTPS_PORT)
        self.proxy_sg.add_ingress_rule(self.lambda_sg, postgres, "functions to the proxy")
        self.lambda_sg.add_egress_rule(self.proxy_sg, postgres, "functions to the proxy")
        self.database_sg.add_ingress_rule(self.proxy_sg, postgres, "proxy to the database")
        self.proxy_sg.add_egress_rule(self.database_sg, postgres, "proxy to the database")
        self.database_sg.add_ingress_rule(self.rotation_sg, postgres, "rotation changes passwords")
        self.rotation_sg.add_egress_rule(self.database_sg, postgres, "rotation changes passwords")

        # Interface endpoints: who needs which (the proxy and rotation read secrets only).
        clients = {
            "secretsmanager": (
                (self.lambda_sg, "functions"),
                (self.proxy_sg, "RDS Proxy fetches its secrets"),
                (self.rotation_sg, "secret rotation"),
            ),
            "email": ((self.lambda_sg, "functions"),),
            "kms": ((self.lambda_sg, "functions seal and open TOTP secrets"),),
        }
        # The group each endpoint created here gets: KMS its own, the others share one.
        groups: dict[str, ec2.SecurityGroup] = dict.fromkeys(_INTERFACE_SERVICES, self.endpoint_sg)
        if self.kms_endpoint_sg is not None:
            groups["kms"] = self.kms_endpoint_sg
        self.endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        existing_groups: dict[str, ec2.ISecurityGroup] = {}
        for service, (construct_name, aws_service) in _INTERFACE_SERVICES.items():
            switch = switches[service]
            target: ec2.ISecurityGroup
            if switch is True:
                self.endpoints[service] = self.vpc.add_interface_endpoint(
                    construct_name,
                    service=aws_service,
                    subnets=self.app_subnets,
                    security_groups=[groups[service]],
                    open=False,
                    private_dns_enabled=True,
                )
                target = groups[service]
            else:
                # The VPC already has this endpoint (with private DNS): reach it through its group.
                assert isinstance(switch, str), "the config admits true or a group id for an interface endpoint"
                if switch not in existing_groups:
                    existing_groups[switch] = ec2.SecurityGroup.from_security_group_id(
                        self, f"Existing{construct_name}Group", switch, allow_all_outbound=False, mutable=True
                    )
                target = existing_groups[switch]
            for client, why in clients[service]:
                target.add_ingress_rule(client, https, f"{why} to the {service} endpoint")
                client.add_egress_rule(target, https, f"{why} to the {service} endpoint")
        self.secrets_manager_endpoint: ec2.InterfaceVpcEndpoint | None = self.endpoints.get("secretsmanager")
        self.ses_endpoint: ec2.InterfaceVpcEndpoint | None = self.endpoints.get("email")
        self.kms_endpoint: ec2.InterfaceVpcEndpoint | None = self.endpoints.get("kms")

        if switches["dynamodb"] is True:
            self.vpc.add_gateway_endpoint(
                "DynamoDbEndpoint", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.app_subnets]
            )
        # The gateway endpoint is reached by DynamoDB's public addresses: allow
        # exactly those (the AWS-managed prefix list). Kept beside the internet
        # rule below so DynamoDB never depends on it.
        self.dynamodb_prefix_list_id = self._managed_prefix_list(
            "DynamoDbPrefixList", "dynamodb", flow_log_retention, removal_policy
        )
        self.lambda_sg.add_egress_rule(
            ec2.Peer.prefix_list(self.dynamodb_prefix_list_id), https, "functions to DynamoDB (gateway endpoint)"
        )
        # The one way to the internet: HTTPS to any IPv4 address, out through the NAT.
        self.lambda_sg.add_egress_rule(ec2.Peer.any_ipv4(), https, INTERNET_EGRESS_DESCRIPTION)

    def _managed_prefix_list(
        self, construct_id: str, service: str, log_retention: logs.RetentionDays, removal_policy: cdk.RemovalPolicy
    ) -> str:
        """The id of the AWS-managed prefix list ``com.amazonaws.<region>.<service>``, looked up at deploy time.

        A synth-time lookup would need credentials; the id differs per region.
        """
        name = f"com.amazonaws.{cdk.Stack.of(self).region}.{service}"
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
            physical_resource_id=cr.PhysicalResourceId.of(name),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            construct_id,
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self, f"{construct_id}Logs", retention=log_retention, removal_policy=removal_policy
            ),
        )
        self.prefix_list_lookup = lookup
        acknowledge(
            lookup.node.find_child("CustomResourcePolicy"),
            "IAM5[Resource::*]",
            "ec2:DescribeManagedPrefixLists (the deploy-time lookup of DynamoDB's prefix list id for the functions' "
            "egress rule) does not support resource-level permissions.",
        )
        for function in stack_singletons(self, AWS_CUSTOM_RESOURCE_SINGLETON):
            acknowledge(
                function.node.find_child("ServiceRole"),
                f"IAM4[{LAMBDA_BASIC}]",
                "CDK's AwsCustomResource function only writes its own logs; "
                "the AWS basic execution policy is exactly that.",
            )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")

    def _group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False)

    def _create_vpc(
        self,
        availability_zones: tuple[str, ...],
        cidr: str,
        nat_gateways: int,
        flow_log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> ec2.Vpc:
        """Private /24 app subnets whose default route is a NAT gateway in a /26 public subnet of its own.

        ``app`` comes first so its subnets keep the addresses (and logical ids)
        they had as isolated subnets; the public ones hold only the NAT gateways
        (no public IP on launch), one in each of the first ``nat_gateways`` AZs.
        """
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=flow_log_retention, removal_policy=removal_policy)
        return ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="nat", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=26, map_public_ip_on_launch=False
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.ALL,
                )
            },
        )
