"""Issue 10, infrastructure half: deploy breakers (B) and misbehaviour (C) in the synthesized templates.

Each test is named after its item (``test_b1_…``, ``test_c9_…``) and fails on
the templates as they were before the fix.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from cdk_app.config import (
    CONTEXT_KEY,
    NETWORK_CONTEXT_KEY,
    PYTHON_CONTEXT_KEY,
    ConfigError,
    cdk_json_context,
    load_environment,
)

ROOT = Path(__file__).resolve().parents[2]


class _Node:
    def __init__(self, context: dict) -> None:
        self._context = context

    def try_get_context(self, key: str):
        return self._context.get(key)


def _functions(env) -> dict[str, dict]:
    return env.resources("stateless", "AWS::Serverless::Function")


def _scheduled(function: dict) -> list[str]:
    return [
        e["Properties"]["Schedule"]
        for e in (function["Properties"].get("Events") or {}).values()
        if e.get("Type") == "Schedule"
    ]


def _depends_on(resource: dict) -> set[str]:
    depends = resource.get("DependsOn") or []
    return {depends} if isinstance(depends, str) else set(depends)


def _group_ids(env) -> dict[str, str]:
    groups = env.resources("stateful", "AWS::EC2::SecurityGroup")
    return {
        role: next(k for k in groups if k.startswith(f"Network{role}SecurityGroup"))
        for role in ("Lambda", "Proxy", "Database", "Rotation", "Endpoint", "KmsEndpoint")
    }


def _ref(value) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return value if isinstance(value, str) else None


def _rules(env, resource_type: str, template: dict | None = None) -> list[dict]:
    resources = (template or env.templates["stateful"])["Resources"]
    return [r["Properties"] for r in resources.values() if r["Type"] == resource_type]


# --- B1 ---------------------------------------------------------------------------------------------------------


def test_b1_every_vpc_function_depends_on_every_policy_attached_to_its_role(each_env):
    policies = each_env.resources("stateless", "AWS::IAM::Policy")
    checked = 0
    for name, function in _functions(each_env).items():
        if "VpcConfig" not in function["Properties"]:
            continue
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        attached = {
            policy_id for policy_id, policy in policies.items() if {"Ref": role} in policy["Properties"]["Roles"]
        }
        assert attached, f"{name}: no policy attached to {role}"
        missing = attached - _depends_on(function)
        assert not missing, f"{name} can be created before {sorted(missing)} (ENI/X-Ray/DLQ permissions)"
        checked += 1
    assert checked == len(_functions(each_env))


# --- B2 ---------------------------------------------------------------------------------------------------------


def test_b2_placeholder_network_ids_fail_synth_naming_the_keys():
    import aws_cdk as cdk

    from stacks.app import build

    config = load_environment(_Node(cdk_json_context()), "prod")
    assert config.placeholders(), "cdk.json commits placeholders for prod's network ids"
    with pytest.raises(ConfigError) as raised:
        build(cdk.App(), config, nag=False)
    message = str(raised.value)
    for key in (
        "vpc.vpc_id",
        "vpc.private_subnet_ids[0]",
        "vpc.private_subnet_ids[1]",
        "vpc.private_subnet_route_table_ids[0]",
        "vpc.private_subnet_route_table_ids[1]",
    ):
        assert f"{CONTEXT_KEY}.prod.{key}" in message, message
    assert "docs/DEPLOYMENT.md" in message and NETWORK_CONTEXT_KEY in message


def test_b2_network_ids_come_from_context_as_object_or_json_string():
    network = {
        "vpc_id": "vpc-0123456789abcdef0",
        "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
        "private_subnet_route_table_ids": ["rtb-0123456789abcdef1", "rtb-0123456789abcdef2"],
    }
    for value in (network, json.dumps(network)):  # `-c saas:network=...` gives a string
        config = load_environment(_Node(cdk_json_context() | {NETWORK_CONTEXT_KEY: value}), "prod")
        assert config.vpc.vpc_id == "vpc-0123456789abcdef0"
        assert config.placeholders() == []
        config.require_deployable()
    for env in ("dev", "staging"):
        load_environment(_Node(cdk_json_context()), env).require_deployable()


@pytest.mark.parametrize(
    ("vpc_changes", "message"),
    [
        ({"vpc_id": "vpc-12"}, "is not a vpc id"),
        ({"private_subnet_ids": ["subnet-0123456789abcdef1", "sub-x"]}, "is not a subnet id"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_b2_malformed_network_ids_are_refused(vpc_changes, message):
    network = {
        "vpc_id": "vpc-0123456789abcdef0",
        "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
        "private_subnet_route_table_ids": ["rtb-0123456789abcdef1", "rtb-0123456789abcdef2"],
    } | vpc_changes
    with pytest.raises(ConfigError, match=message):
        load_environment(_Node(cdk_json_context() | {NETWORK_CONTEXT_KEY: network}), "prod")


# --- B3 ---------------------------------------------------------------------------------------------------------


def test_b3_rds_proxy_reaches_the_secrets_manager_endpoint_on_443(each_env):
    sg = _group_ids(each_env)
    ingress = {
        (_ref(r["GroupId"]), _ref(r.get("SourceSecurityGroupId")), r["FromPort"], r["ToPort"])
        for r in _rules(each_env, "AWS::EC2::SecurityGroupIngress")
        if r["FromPort"] == 443
    }
    egress = {
        (_ref(r["GroupId"]), _ref(r.get("DestinationSecurityGroupId")), r["FromPort"], r["ToPort"])
        for r in _rules(each_env, "AWS::EC2::SecurityGroupEgress")
        if r["FromPort"] == 443
    }
    assert (sg["Endpoint"], sg["Proxy"], 443, 443) in ingress
    assert (sg["Proxy"], sg["Endpoint"], 443, 443) in egress
    [endpoint] = [
        e
        for e in each_env.resources("stateful", "AWS::EC2::VPCEndpoint").values()
        if "secretsmanager" in json.dumps(e["Properties"]["ServiceName"])
    ]
    assert endpoint["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [sg["Endpoint"], "GroupId"]}]


# --- B4 ---------------------------------------------------------------------------------------------------------


def _imported(endpoints) -> dict:
    return {
        "vpc_id": "vpc-0123456789abcdef0",
        "private_subnet_ids": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
        "private_subnet_route_table_ids": ["rtb-0123456789abcdef1", "rtb-0123456789abcdef2"],
        "endpoints": endpoints,
    }


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ({"dynamodb": True, "secretsmanager": True, "kms": True}, "exactly"),
        ({"dynamodb": True, "secretsmanager": True, "email": True}, "exactly"),  # no word on KMS
        ({"dynamodb": True, "secretsmanager": True, "email": True, "kms": True, "sts": True}, "exactly"),
        (
            {"dynamodb": "sg-0123456789abcdef0", "secretsmanager": True, "email": True, "kms": True},
            "dynamodb must be true",
        ),
        ({"dynamodb": True, "secretsmanager": False, "email": True, "kms": True}, "secretsmanager must be true"),
        ({"dynamodb": True, "secretsmanager": True, "email": "vpce-123", "kms": True}, "email must be true"),
        ({"dynamodb": True, "secretsmanager": True, "email": True, "kms": False}, "kms must be true"),
        (
            {"dynamodb": True, "secretsmanager": True, "email": True, "kms": "vpce-0123456789abcdef0"},
            "kms must be true",
        ),
    ],
)
def test_b4_endpoint_switches_are_validated(endpoints, message):
    with pytest.raises(ConfigError, match=message):
        load_environment(_Node(cdk_json_context() | {NETWORK_CONTEXT_KEY: _imported(endpoints)}), "prod")


def test_b4_an_imported_vpc_creates_only_the_endpoints_it_lacks():
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from stacks.stateful_stack import StatefulStack

    existing_sg = "sg-0123456789abcdef0"
    existing_kms_sg = "sg-0123456789abcdef9"
    config = load_environment(
        _Node(
            cdk_json_context()
            | {
                NETWORK_CONTEXT_KEY: _imported(
                    {"dynamodb": False, "secretsmanager": existing_sg, "email": True, "kms": existing_kms_sg}
                )
            }
        ),
        "prod",
    )
    stack = StatefulStack(cdk.App(), "Probe", config=config)
    template = Template.from_stack(stack).to_json()
    endpoints = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::EC2::VPCEndpoint"]
    assert [json.dumps(e["ServiceName"]).count("email") for e in endpoints] == [1], "only SES is created"
    resources = template["Resources"]
    groups = {k for k, r in resources.items() if r["Type"] == "AWS::EC2::SecurityGroup"}
    lambda_sg, proxy_sg, rotation_sg = (
        next(g for g in groups if g.startswith(f"Network{n}SecurityGroup")) for n in ("Lambda", "Proxy", "Rotation")
    )
    ingress = {
        (r["GroupId"] if isinstance(r["GroupId"], str) else None, _ref(r["SourceSecurityGroupId"]), r["FromPort"])
        for r in _rules(None, "AWS::EC2::SecurityGroupIngress", template)
        if r["FromPort"] == 443
    }
    egress = {
        (_ref(r["GroupId"]), r.get("DestinationSecurityGroupId"), r["FromPort"])
        for r in _rules(None, "AWS::EC2::SecurityGroupEgress", template)
        if r["FromPort"] == 443 and isinstance(r.get("DestinationSecurityGroupId"), str)
    }
    for client in (lambda_sg, proxy_sg, rotation_sg):
        assert (existing_sg, client, 443) in ingress, client
        assert (client, existing_sg, 443) in egress, client
    # The existing KMS endpoint: the functions reach it, nothing else is let in, and no KMS group is made here.
    assert {(t, s) for t, s, _ in ingress if t == existing_kms_sg} == {(existing_kms_sg, lambda_sg)}
    assert {(c, t) for c, t, _ in egress if t == existing_kms_sg} == {(lambda_sg, existing_kms_sg)}
    assert not [g for g in groups if g.startswith("NetworkKmsEndpointSecurityGroup")]


# --- C2 ---------------------------------------------------------------------------------------------------------


def test_c2_sam_creates_one_stage_only(each_env):
    template = each_env.templates["stateless"]
    [api] = each_env.resources("stateless", "AWS::Serverless::Api").values()
    props = api["Properties"]
    # Any valid OpenApiVersion stops SAM's extra "Stage" stage; it must match the Swagger body.
    assert props.get("OpenApiVersion") == props["DefinitionBody"]["swagger"] == "2.0"
    assert props["StageName"] == "api"
    globals_api = (template.get("Globals") or {}).get("Api") or {}
    assert globals_api.get("OpenApiVersion", props["OpenApiVersion"]) == props["OpenApiVersion"]
    assert not each_env.resources("stateless", "AWS::ApiGateway::Stage")
    assert not each_env.resources("stateless", "AWS::ApiGateway::Deployment")


# --- C3 ---------------------------------------------------------------------------------------------------------


def test_c3_rotation_schedules_start_after_the_db_instances(each_env):
    instances = set(each_env.resources("stateful", "AWS::RDS::DBInstance"))
    schedules = each_env.resources("stateful", "AWS::SecretsManager::RotationSchedule")
    assert len(instances) == 2 and len(schedules) == 2
    for logical_id, schedule in schedules.items():
        assert instances <= _depends_on(schedule), logical_id


# --- C5 ---------------------------------------------------------------------------------------------------------


def test_c5_pinning_alarm_sums_across_proxy_nodes(each_env):
    alarms = [
        a["Properties"]
        for a in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "DatabaseConnectionsCurrentlySessionPinned"
    ]
    assert len(alarms) == 1
    assert alarms[0]["Statistic"] == "Sum"
    assert [d["Name"] for d in alarms[0]["Dimensions"]] == ["ProxyName"]
    docs = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    assert "rds-proxy-pinning" in docs and "set_config" in docs


# --- C9 ---------------------------------------------------------------------------------------------------------

EXPECTED_GATEWAY_RESPONSES = {
    "THROTTLED": ("429", "TooManyRequestsError"),
    "MISSING_AUTHENTICATION_TOKEN": ("404", "NotFoundError"),
    "RESOURCE_NOT_FOUND": ("404", "NotFoundError"),
    "INTEGRATION_TIMEOUT": ("504", "GatewayTimeoutError"),
    "INTEGRATION_FAILURE": ("502", "BadGatewayError"),
    "DEFAULT_4XX": (None, "BadRequestError"),
    "DEFAULT_5XX": (None, "InternalServerError"),
}


def test_c9_api_gateway_own_responses_carry_the_contract_error_shape(each_env):
    [api] = each_env.resources("stateless", "AWS::Serverless::Api").values()
    responses = api["Properties"]["DefinitionBody"]["x-amazon-apigateway-gateway-responses"]
    assert set(EXPECTED_GATEWAY_RESPONSES) <= set(responses)
    for response_type, response in responses.items():
        expected_status, expected_code = EXPECTED_GATEWAY_RESPONSES.get(
            response_type, (response.get("statusCode"), None)
        )
        assert response.get("statusCode") == expected_status, response_type
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId", response_type
        template = response["responseTemplates"]["application/json"]
        body = json.loads(template.replace("$context.error.messageString", '"message"'))
        assert set(body) == {"Code", "Message"}, response_type
        if expected_code:
            assert body["Code"] == expected_code, response_type
        if response.get("statusCode") == "429":
            assert re.fullmatch(r"'\d+'", headers["gatewayresponse.header.Retry-After"]), response_type
    assert "gatewayresponse.header.Retry-After" in responses["THROTTLED"]["responseParameters"]


# --- C10 --------------------------------------------------------------------------------------------------------


def test_c10_schedule_gaps_and_alarm_windows():
    from stacks.constructs.monitoring import did_not_run_window_minutes, schedule_gap_minutes

    assert schedule_gap_minutes("rate(5 minutes)") == 5
    assert schedule_gap_minutes("rate(1 hour)") == 60
    assert schedule_gap_minutes("cron(0 3 * * ? *)") == 24 * 60
    assert schedule_gap_minutes("cron(0 2 1 * ? *)") == 31 * 24 * 60
    assert did_not_run_window_minutes("rate(5 minutes)") == 15
    assert did_not_run_window_minutes("cron(0 3 * * ? *)") == 26 * 60
    assert did_not_run_window_minutes("cron(0 2 1 * ? *)") is None  # beyond CloudWatch's 7-day window
    with pytest.raises(ValueError):
        schedule_gap_minutes("cron(0/5 8-17 ? * MON-FRI *)")


def test_c10_every_scheduled_job_has_a_did_not_run_alarm(each_env):
    from stacks.constructs.monitoring import did_not_run_window_minutes

    alarms = [a["Properties"] for a in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values()]
    unwatched = each_env.stacks.stateless.monitoring.unwatched_schedules
    scheduled = {name: f for name, f in _functions(each_env).items() if _scheduled(f)}
    assert scheduled
    for name, function in scheduled.items():
        [schedule] = _scheduled(function)
        window = did_not_run_window_minutes(schedule)
        mine = [
            a
            for a in alarms
            if a.get("MetricName") == "Invocations"
            and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
        ]
        if window is None:
            # CloudWatch cannot look back a month; recorded, documented, and reported.
            assert unwatched == unwatched | {name: schedule} and not mine, name
            continue
        assert len(mine) == 1, name
        alarm = mine[0]
        assert alarm["TreatMissingData"] == "breaching", name
        assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1, name
        assert alarm["Statistic"] == "Sum" and alarm["Period"] * alarm["EvaluationPeriods"] == window * 60, name
    assert set(unwatched) <= set(scheduled)


def test_c10_failed_scheduled_runs_go_to_an_encrypted_dead_letter_queue_that_alarms(each_env):
    queues = each_env.resources("stateless", "AWS::SQS::Queue")
    assert len(queues) == 1
    [(queue_id, queue)] = queues.items()
    assert "KmsMasterKeyId" in queue["Properties"]
    for name, function in _functions(each_env).items():
        dlq = function["Properties"].get("DeadLetterQueue")
        if _scheduled(function):
            assert dlq == {"Type": "SQS", "TargetArn": {"Fn::GetAtt": [queue_id, "Arn"]}}, name
        else:
            assert dlq is None, name
    statements = [
        s
        for p in each_env.resources("stateless", "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Action"] == "sqs:SendMessage" and s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for s in statements
    )
    visible = [
        a["Properties"]
        for a in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(visible) == 1
    assert visible[0]["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert visible[0]["Threshold"] == 1


# --- C11 --------------------------------------------------------------------------------------------------------


def test_c11_every_function_runs_the_python_pinned_in_cdk_json(each_env):
    pinned = cdk_json_context()[PYTHON_CONTEXT_KEY]
    assert pinned == "3.12", "python3.11 can no longer be created on Lambda"
    assert each_env.config.lambda_runtime == f"python{pinned}"
    for name, function in _functions(each_env).items():
        assert function["Properties"]["Runtime"] == f"python{pinned}", name


def test_c11_the_package_carries_binary_wheels_for_the_pinned_python(dev):
    pinned = cdk_json_context()[PYTHON_CONTEXT_KEY].replace(".", "")
    [package] = [p for p in dev.outdir.glob("asset.*.zip") if "chalicelib/core/db.py" in zipfile.ZipFile(p).namelist()]
    names = zipfile.ZipFile(package).namelist()
    for module in ("pydantic_core/_pydantic_core", "psycopg_binary/_psycopg"):
        built = [n for n in names if n.startswith(module) and n.endswith(".so")]
        assert built and all(f"cpython-{pinned}-" in n for n in built), (module, built)


def test_c11_the_construct_does_not_read_chalice_private_state():
    source = (ROOT / "stacks" / "constructs" / "api.py").read_text()
    assert "_sam_package_dir" not in source


def test_c11_cdk_json_app_runs_without_make(tmp_path):
    """cdk.json's command, with none of the Makefile's environment: a full dev synth."""
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "AWS_DEFAULT_REGION", "AWS_REGION", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION")
    }
    env |= {"CDK_CONTEXT_JSON": json.dumps({"env": "dev"}), "CDK_OUTDIR": str(tmp_path / "out")}
    command = app.split()
    command[0] = sys.executable if command[0].endswith("python") else command[0]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "Saas-dev-Stateless.template.json").exists()


def test_c11_rotation_function_logs_have_the_environment_retention(each_env):
    applications = {
        k for k, r in each_env.templates["stateful"]["Resources"].items() if r["Type"] == "AWS::Serverless::Application"
    }
    assert len(applications) == 2, "one rotation application per database secret"
    covered = set()
    for retention in each_env.resources("stateful", "Custom::LogRetention").values():
        props = retention["Properties"]
        text = json.dumps(props["LogGroupName"])
        for application in applications:
            if f'["{application}", "Outputs.RotationLambdaARN"]' in text and "/aws/lambda/" in text:
                assert int(props["RetentionInDays"]) == each_env.config.log_retention_days
                covered.add(application)
    assert covered == applications


def test_c11_cloudwatch_may_use_the_key_only_for_this_account(each_env):
    [key] = each_env.resources("stateful", "AWS::KMS::Key").values()
    statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(statements) == 1
    assert statements[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_c11_no_granted_but_unused_actions(each_env):
    granted = set()
    for policy in each_env.resources("stateless", "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            granted |= {actions} if isinstance(actions, str) else set(actions)
    assert not granted & {
        "ses:SendRawEmail",
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:Scan",
        "dynamodb:BatchWriteItem",  # its caller went with the sessions (migration 0044)
    }
    runtime = "\n".join(p.read_text() for p in (ROOT / "runtime" / "chalicelib").rglob("*.py"))
    assert "batch_write_item(" not in runtime and "batch_writer(" not in runtime
    for action, call in (
        ("ses:SendEmail", "send_email("),
        ("dynamodb:Query", '"query"'),
    ):
        assert action in granted and call in runtime, action


# --- issue 11, item 12 ------------------------------------------------------------------------------------------


def test_issue11_item12_no_security_group_egress_to_the_internet(each_env):
    """No group reaches the internet, except the functions' one HTTPS rule for Stripe and webhooks (issue 14)."""
    from stacks.constructs.network import INTERNET_EGRESS_DESCRIPTION

    sg = _group_ids(each_env)
    for logical_id, group in each_env.resources("stateful", "AWS::EC2::SecurityGroup").items():
        rules = group["Properties"].get("SecurityGroupEgress", [])
        if logical_id == sg["Lambda"]:
            assert rules == [
                {
                    "CidrIp": "0.0.0.0/0",
                    "Description": INTERNET_EGRESS_DESCRIPTION,
                    "FromPort": 443,
                    "IpProtocol": "tcp",
                    "ToPort": 443,
                }
            ]
            continue
        for rule in rules:
            assert rule["CidrIp"] == "255.255.255.255/32", (logical_id, rule)  # CDK's "no egress" marker
    egress = _rules(each_env, "AWS::EC2::SecurityGroupEgress")
    assert not [r for r in egress if "CidrIp" in r or "CidrIpv6" in r], "no CIDR egress at all"
    functions = [r for r in egress if _ref(r["GroupId"]) == sg["Lambda"]]
    destinations = {
        (_ref(r.get("DestinationSecurityGroupId")), json.dumps(r["FromPort"]))
        for r in functions
        if "DestinationSecurityGroupId" in r
    }
    assert {(group, port) for group, port in destinations if port in ("5432", "443")} == {
        (sg["Proxy"], "5432"),
        (sg["Endpoint"], "443"),
        (sg["KmsEndpoint"], "443"),
    }
    assert {group for group, _ in destinations} == {sg["Proxy"], sg["Endpoint"], sg["KmsEndpoint"]}
    [prefix] = [r for r in functions if "DestinationPrefixListId" in r]
    assert prefix["FromPort"] == prefix["ToPort"] == 443
    lookup = prefix["DestinationPrefixListId"]["Fn::GetAtt"][0]
    call = each_env.templates["stateful"]["Resources"][lookup]["Properties"]["Create"]
    assert "describeManagedPrefixLists" in json.dumps(call) and ".dynamodb" in json.dumps(call)


def test_issue11_item12_config_round_trip_keeps_endpoint_switches():
    config = load_environment(
        _Node(
            cdk_json_context()
            | {
                NETWORK_CONTEXT_KEY: _imported(
                    {"dynamodb": False, "secretsmanager": "sg-0123456789abcdef0", "email": True, "kms": True}
                )
            }
        ),
        "prod",
    )
    assert config.vpc.endpoint("dynamodb") is False
    assert config.vpc.endpoint("secretsmanager") == "sg-0123456789abcdef0"
    assert config.vpc.endpoint("kms") is True
    assert replace(config, bcrypt_cost=12).vpc == config.vpc


# --- issue 11, item 1: the set-aside metric alarms --------------------------------------------------------------


def test_issue11_item1_customers_set_aside_by_a_billing_run_raise_an_alarm(each_env):
    alarms = [
        a["Properties"]
        for a in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "BillingCustomersSetAside"
    ]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Namespace"] == "SaaSPlatform"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "saas-api"}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"]


# --- issue 11, item 14: a degraded dependency raises an alarm --------------------------------------------------


def test_issue11_item14_each_degraded_dependency_raises_an_alarm(each_env):
    alarms = {}
    for resource in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values():
        alarm = resource["Properties"]
        if alarm.get("MetricName") == "DependencyDegraded":
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            assert dimensions.keys() == {"service", "dependency"} and dimensions["service"] == "saas-api"
            alarms[dimensions["dependency"]] = alarm
    assert set(alarms) == {"database", "dynamodb", "ses", "kms", "stripe"}
    for alarm in alarms.values():
        assert alarm["Namespace"] == "SaaSPlatform"
        assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
        assert alarm["AlarmActions"]
