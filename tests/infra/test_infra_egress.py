"""Issue 14: the functions' way out to Stripe's API and tenants' webhook endpoints.

A created VPC routes its private subnets' 0.0.0.0/0 through NAT gateways
(``nat_gateways``: one in dev and staging, one per AZ in prod); the functions'
security group gains exactly one CIDR rule, TCP 443 to 0.0.0.0/0. An imported
VPC brings its own NAT route: the stack adds the rule only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdk_app.config import CONTEXT_KEY, NETWORK_CONTEXT_KEY, ConfigError, cdk_json_context, load_environment
from stacks.constructs.network import INTERNET_EGRESS_DESCRIPTION


class _Node:
    def __init__(self, context: dict) -> None:
        self._context = context

    def try_get_context(self, key: str):
        return self._context.get(key)


def _context(env: str, **changes: Any) -> dict:
    context = json.loads(json.dumps(cdk_json_context()))
    context[CONTEXT_KEY][env].update(changes)
    return context


def _of_type(resources: dict, resource_type: str) -> dict[str, dict]:
    return {k: r for k, r in resources.items() if r["Type"] == resource_type}


def _created_vpc_stateful(env: str) -> dict:
    """``env``'s stateful template with a VPC created by the stack (prod's committed config imports one)."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.stateful_stack import StatefulStack

    config = load_environment(_Node(cdk_json_context() | {NETWORK_CONTEXT_KEY: {}}), env)
    assert config.vpc is None
    return Template.from_stack(StatefulStack(cdk.App(), "Probe", config=config)).to_json()["Resources"]


def _app_subnets(resources: dict) -> dict[str, dict]:
    return {k: r for k, r in _of_type(resources, "AWS::EC2::Subnet").items() if k.startswith("NetworkVpcappSubnet")}


def _assert_private_subnets_route_through_nat(resources: dict, nat_count: int) -> None:
    nats = _of_type(resources, "AWS::EC2::NatGateway")
    assert len(nats) == nat_count
    subnets = _of_type(resources, "AWS::EC2::Subnet")
    app = _app_subnets(resources)
    assert len(app) == 2 and all(r["Properties"]["MapPublicIpOnLaunch"] is False for r in subnets.values())
    # Each NAT sits in a public subnet (routed to the internet gateway), never in an app subnet.
    nat_subnets = {nat["Properties"]["SubnetId"]["Ref"] for nat in nats.values()}
    assert nat_subnets.isdisjoint(app) and nat_subnets <= set(subnets)
    associations = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in _of_type(resources, "AWS::EC2::SubnetRouteTableAssociation").values()
    }
    default_routes: dict[str, dict] = {}
    for route in _of_type(resources, "AWS::EC2::Route").values():
        props = route["Properties"]
        if props.get("DestinationCidrBlock") == "0.0.0.0/0":
            assert props["RouteTableId"]["Ref"] not in default_routes, "one default route per table"
            default_routes[props["RouteTableId"]["Ref"]] = props
    used = set()
    for subnet_id, subnet in app.items():
        route = default_routes[associations[subnet_id]]
        assert set(route) == {"RouteTableId", "DestinationCidrBlock", "NatGatewayId"}, subnet_id
        nat = route["NatGatewayId"]["Ref"]
        assert nat in nats
        used.add(nat)
        if nat_count == len(app):  # one per AZ: each subnet's NAT is in its own AZ
            nat_subnet = subnets[nats[nat]["Properties"]["SubnetId"]["Ref"]]
            assert nat_subnet["Properties"]["AvailabilityZone"] == subnet["Properties"]["AvailabilityZone"]
    assert used == set(nats), "every NAT carries an app subnet's traffic"
    for nat_subnet in nat_subnets:
        route = default_routes[associations[nat_subnet]]
        assert set(route) == {"RouteTableId", "DestinationCidrBlock", "GatewayId"}
        assert route["GatewayId"]["Ref"] in _of_type(resources, "AWS::EC2::InternetGateway")


def _internet_rules(resources: dict) -> dict[str, list[dict]]:
    """Every egress rule with a CIDR, inline or standalone, by the group that has it."""
    found: dict[str, list[dict]] = {}
    for logical_id, group in _of_type(resources, "AWS::EC2::SecurityGroup").items():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            if rule.get("CidrIp") != "255.255.255.255/32":  # CDK's "no egress" marker
                found.setdefault(logical_id, []).append(rule)
    for rule in _of_type(resources, "AWS::EC2::SecurityGroupEgress").values():
        props = rule["Properties"]
        if "CidrIp" in props or "CidrIpv6" in props:
            found.setdefault(json.dumps(props["GroupId"]), []).append(props)
    return found


def test_cdk_json_gives_one_nat_in_dev_and_staging_and_one_per_az_in_prod():
    configs = {env: load_environment(_Node(cdk_json_context()), env) for env in ("dev", "staging", "prod")}
    assert configs["dev"].nat_gateways == configs["staging"].nat_gateways == 1
    assert configs["prod"].nat_gateways == len(configs["prod"].availability_zones) == 2


def test_a_created_vpc_has_its_configured_nats_and_routes_private_subnets_through_them(each_env):
    resources = each_env.templates["stateful"]["Resources"]
    if each_env.config.vpc is not None:
        # Imported: the landing zone's route tables carry the NAT route; the stack creates none.
        for resource_type in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route"):
            assert not _of_type(resources, resource_type), resource_type
        return
    _assert_private_subnets_route_through_nat(resources, each_env.config.nat_gateways)


def test_prod_with_a_created_vpc_has_a_nat_in_each_az():
    _assert_private_subnets_route_through_nat(_created_vpc_stateful("prod"), 2)


def test_the_functions_and_database_stay_in_the_private_subnets(dev):
    resources = dev.templates["stateful"]["Resources"]
    app = set(_app_subnets(resources))
    [subnet_group] = _of_type(resources, "AWS::RDS::DBSubnetGroup").values()
    assert {s["Ref"] for s in subnet_group["Properties"]["SubnetIds"]} == app
    for endpoint in _of_type(resources, "AWS::EC2::VPCEndpoint").values():
        if "SubnetIds" in endpoint["Properties"]:
            assert {s["Ref"] for s in endpoint["Properties"]["SubnetIds"]} == app
    for name, function in dev.resources("stateless", "AWS::Serverless::Function").items():
        imported = json.dumps(function["Properties"]["VpcConfig"]["SubnetIds"])
        assert imported.count("NetworkVpcappSubnet") == 2 and "NetworkVpcnatSubnet" not in imported, name


def test_the_functions_group_gains_exactly_one_https_rule_to_the_internet(each_env):
    resources = each_env.templates["stateful"]["Resources"]
    [lambda_sg] = [k for k in _of_type(resources, "AWS::EC2::SecurityGroup") if k.startswith("NetworkLambdaSecurity")]
    assert _internet_rules(resources) == {
        lambda_sg: [
            {
                "CidrIp": "0.0.0.0/0",
                "Description": INTERNET_EGRESS_DESCRIPTION,
                "FromPort": 443,
                "IpProtocol": "tcp",
                "ToPort": 443,
            }
        ]
    }


def test_the_rule_description_uses_only_characters_ec2_accepts():
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-:/()#,@[]+=&;{}!$*")
    assert set(INTERNET_EGRESS_DESCRIPTION) <= allowed and len(INTERNET_EGRESS_DESCRIPTION) <= 255


def test_an_imported_vpc_gets_only_the_rule():
    """Its private subnets must already route 0.0.0.0/0 through a NAT (docs/DEPLOYMENT.md, "Network ids")."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.stateful_stack import StatefulStack

    network = {
        "vpc_id": "vpc-0123456789abcdef0",
        "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
        "private_subnet_route_table_ids": ["rtb-0123456789abcdef1", "rtb-0123456789abcdef2"],
    }
    config = load_environment(_Node(cdk_json_context() | {NETWORK_CONTEXT_KEY: network}), "dev")
    imported = Template.from_stack(StatefulStack(cdk.App(), "Probe", config=config)).to_json()["Resources"]
    for resource_type in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::Route", "AWS::EC2::Subnet"):
        assert not _of_type(imported, resource_type), resource_type
    [(group, [rule])] = _internet_rules(imported).items()
    assert group.startswith("NetworkLambdaSecurityGroup")
    assert (rule["CidrIp"], rule["FromPort"], rule["ToPort"]) == ("0.0.0.0/0", 443, 443)


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("dev", 0, "nat_gateways must be 1 to"),
        ("dev", 3, "nat_gateways must be 1 to"),
        ("dev", -1, "nat_gateways must be 1 to"),
        ("dev", "1", "nat_gateways must be 1 to"),
        ("dev", True, "nat_gateways must be 1 to"),
        ("dev", 1.5, "nat_gateways must be 1 to"),
        ("prod", 1, "prod needs one NAT gateway per availability zone"),
    ],
)
def test_nat_gateways_is_validated(env, value, message):
    with pytest.raises(ConfigError, match=message):
        load_environment(_Node(_context(env, nat_gateways=value)), env)


def test_nat_gateways_is_required():
    context = _context("staging")
    del context[CONTEXT_KEY]["staging"]["nat_gateways"]
    with pytest.raises(ConfigError, match=r"missing keys.*nat_gateways"):
        load_environment(_Node(context), "staging")
