"""The stateful stack: key, Aurora + proxy, secrets, tables, security groups, endpoints."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from chalicelib.core.contract import APP_LOGIN
from chalicelib.core.tables import ALL_TABLES


def _one(env, which: str, resource_type: str) -> tuple[str, dict]:
    found = env.resources(which, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def test_customer_managed_key_rotates(each_env):
    each_env.template("stateful").has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_aurora_serverless_v2_cluster(each_env):
    config = each_env.config
    key_id, _ = _one(each_env, "stateful", "AWS::KMS::Key")
    _, cluster = _one(each_env, "stateful", "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["EngineVersion"] == config.aurora_engine_version
    assert props["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": config.aurora_min_acu,
        "MaxCapacity": config.aurora_max_acu,
    }
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["BackupRetentionPeriod"] == 35
    assert props["EnableCloudwatchLogsExports"] == ["postgresql"]
    assert props["DeletionProtection"] is config.deletion_protection
    expected_policy = "Retain" if config.retain_data else "Delete"
    assert cluster["DeletionPolicy"] == expected_policy


def test_prod_cluster_is_protected_and_retained(prod):
    _, cluster = _one(prod, "stateful", "AWS::RDS::DBCluster")
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == cluster["UpdateReplacePolicy"] == "Retain"
    for table in prod.resources("stateful", "AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
        assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_writer_and_one_reader_that_scales_with_it(each_env):
    instances = each_env.resources("stateful", "AWS::RDS::DBInstance")
    assert len(instances) == 2
    tiers = sorted(instance["Properties"].get("PromotionTier", 0) for instance in instances.values())
    # A reader in promotion tier 0 or 1 scales with the writer.
    assert tiers[-1] <= 1
    for instance in instances.values():
        assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
        assert instance["Properties"]["PubliclyAccessible"] is False


def test_proxy_requires_tls_and_iam_and_knows_both_logins(each_env):
    _, proxy = _one(each_env, "stateful", "AWS::RDS::DBProxy")
    props = proxy["Properties"]
    assert props["RequireTLS"] is True
    assert props["EngineFamily"] == "POSTGRESQL"
    assert len(props["Auth"]) == 2, "cluster master secret and the app-user secret"
    assert all(auth["IAMAuth"] == "REQUIRED" for auth in props["Auth"])


def test_db_secrets_rotate_and_use_the_key(each_env):
    template = each_env.template("stateful")
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 2)
    schedules = each_env.resources("stateful", "AWS::SecretsManager::RotationSchedule").values()
    days = {s["Properties"]["RotationRules"]["ScheduleExpression"] for s in schedules}
    assert days == {f"rate({each_env.config.db_rotation_days} days)"}
    # master, app user, JWT keys, pepper, Stripe's key and webhook secret: all encrypted with the customer key
    secrets = each_env.resources("stateful", "AWS::SecretsManager::Secret")
    assert len(secrets) == 6
    key_id, _ = _one(each_env, "stateful", "AWS::KMS::Key")
    for secret in secrets.values():
        assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
        assert "SecretString" not in secret["Properties"], "secret values are generated, never in the template"
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_like(
                {
                    "GenerateStringKey": "password",
                    "SecretStringTemplate": json.dumps({"username": APP_LOGIN}, separators=(",", ":")),
                }
            )
        },
    )


def test_jwt_and_pepper_secrets_use_the_configured_names(each_env):
    secrets = each_env.resources("stateful", "AWS::SecretsManager::Secret").values()
    names = {s["Properties"].get("Name") for s in secrets}
    assert {each_env.config.jwt_secret_name, each_env.config.pepper_secret_name} <= names


def test_tables_match_the_shared_specs(each_env):
    key_id, _ = _one(each_env, "stateful", "AWS::KMS::Key")
    tables = each_env.resources("stateful", "AWS::DynamoDB::Table")
    assert len(tables) == len(ALL_TABLES)
    by_logical = {logical_id: table["Properties"] for logical_id, table in tables.items()}
    for spec in ALL_TABLES:
        matches = [
            props
            for logical_id, props in by_logical.items()
            if logical_id.startswith(f"Tables{spec.logical_name.capitalize()}")
        ]
        assert len(matches) == 1, spec.logical_name
        props = matches[0]
        expected = spec.boto3_create_kwargs("ignored")
        assert props["KeySchema"] == expected["KeySchema"]
        assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            expected["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        )
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"] == {
            "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
            "SSEEnabled": True,
            "SSEType": "KMS",
        }
        indexes = props.get("GlobalSecondaryIndexes", [])
        assert [(i["IndexName"], i["KeySchema"]) for i in indexes] == [
            (i["IndexName"], i["KeySchema"]) for i in expected.get("GlobalSecondaryIndexes", [])
        ]


def _group_ids(env) -> dict[str, str]:
    groups = env.resources("stateful", "AWS::EC2::SecurityGroup")
    named = {}
    for role in ("Lambda", "Proxy", "Database", "Rotation", "Endpoint", "KmsEndpoint"):
        [logical_id] = [k for k in groups if k.startswith(f"Network{role}SecurityGroup")]
        named[role] = logical_id
    return named


def _ingress(env) -> list[tuple[str, str, object]]:
    """(target group, source group, from port) for every ingress rule, standalone or inline."""
    rules = []
    for rule in env.resources("stateful", "AWS::EC2::SecurityGroupIngress").values():
        props = rule["Properties"]
        rules.append(
            (props["GroupId"]["Fn::GetAtt"][0], props["SourceSecurityGroupId"]["Fn::GetAtt"][0], props["FromPort"])
        )
    for logical_id, group in env.resources("stateful", "AWS::EC2::SecurityGroup").items():
        rules.extend(
            (logical_id, rule.get("CidrIp") or rule.get("SourceSecurityGroupId"), rule.get("FromPort"))
            for rule in group["Properties"].get("SecurityGroupIngress", [])
        )
    return rules


def test_security_groups_admit_only_the_needed_paths(each_env):
    sg = _group_ids(each_env)
    sources: dict[str, set[str]] = {}
    for target, source, port in _ingress(each_env):
        assert isinstance(source, str) and source in sg.values(), f"ingress to {target} from {source}"
        assert port == 5432 or isinstance(port, dict) or (port == 443 and target in (sg["Endpoint"], sg["KmsEndpoint"]))
        sources.setdefault(target, set()).add(source)
    assert sources[sg["Proxy"]] == {sg["Lambda"]}
    assert sources[sg["Database"]] == {sg["Proxy"], sg["Rotation"]}
    # RDS Proxy fetches its secrets through its own interfaces (issue 10, B3).
    assert sources[sg["Endpoint"]] == {sg["Lambda"], sg["Rotation"], sg["Proxy"]}
    assert sources[sg["KmsEndpoint"]] == {sg["Lambda"]}
    assert sg["Lambda"] not in sources and sg["Rotation"] not in sources
    # No group opens outbound to everything.
    for group in each_env.resources("stateful", "AWS::EC2::SecurityGroup").values():
        for rule in group["Properties"].get("SecurityGroupEgress", []):
            assert rule.get("IpProtocol") != "-1"


def _service(endpoint: dict) -> str:
    """``kms`` for ``com.amazonaws.<region>.kms``, the region a string or a token."""
    name = endpoint["Properties"]["ServiceName"]
    name = name if isinstance(name, str) else "".join(p if isinstance(p, str) else "" for p in name["Fn::Join"][1])
    return name.rsplit(".", 1)[-1]


def test_endpoints_let_private_functions_reach_dynamodb_secrets_ses_and_kms(each_env):
    endpoints = each_env.resources("stateful", "AWS::EC2::VPCEndpoint").values()
    services = {}
    for endpoint in endpoints:
        services[_service(endpoint)] = endpoint["Properties"].get("VpcEndpointType", "Gateway")
    assert services == {"dynamodb": "Gateway", "secretsmanager": "Interface", "email": "Interface", "kms": "Interface"}


def test_the_kms_endpoint_admits_the_functions_only_on_443(each_env):
    """auth.secret_box calls KMS from the functions; private DNS keeps that traffic on this endpoint, off the NAT."""
    sg = _group_ids(each_env)
    [endpoint] = [
        e["Properties"]
        for e in each_env.resources("stateful", "AWS::EC2::VPCEndpoint").values()
        if _service(e) == "kms"
    ]
    assert endpoint["VpcEndpointType"] == "Interface"
    assert endpoint["PrivateDnsEnabled"] is True, "the SDK's default KMS host must resolve to the endpoint"
    assert endpoint["SecurityGroupIds"] == [{"Fn::GetAtt": [sg["KmsEndpoint"], "GroupId"]}]
    ingress = [(source, port) for target, source, port in _ingress(each_env) if target == sg["KmsEndpoint"]]
    assert ingress == [(sg["Lambda"], 443)]
    group = each_env.resources("stateful", "AWS::EC2::SecurityGroup")[sg["KmsEndpoint"]]["Properties"]
    assert [rule["CidrIp"] for rule in group.get("SecurityGroupEgress", [])] == ["255.255.255.255/32"]


def test_dev_creates_a_private_vpc_with_one_nat_and_flow_logs(dev):
    """Issue 14: the functions reach Stripe and webhooks through one NAT gateway (dev keeps the cost down)."""
    template = dev.template("stateful")
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::EC2::InternetGateway", 1)
    template.resource_count_is("AWS::EC2::FlowLog", 1)


def test_prod_imports_the_configured_vpc(prod):
    template = prod.template("stateful")
    template.resource_count_is("AWS::EC2::VPC", 0)
    vpc_ids = {g["Properties"]["VpcId"] for g in prod.resources("stateful", "AWS::EC2::SecurityGroup").values()}
    assert vpc_ids == {prod.config.vpc.vpc_id}
    _, subnet_group = _one(prod, "stateful", "AWS::RDS::DBSubnetGroup")
    assert subnet_group["Properties"]["SubnetIds"] == list(prod.config.vpc.private_subnet_ids)
