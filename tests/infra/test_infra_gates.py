"""Gates over every synthesized template: cdk-nag, cfn-lint, and no hard-coded physical names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Properties that give a resource a fixed physical name.
NAME_PROPERTIES = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Serverless::Api": "Name",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::Events::Rule": "Name",
}


def _acknowledgements(env) -> dict[str, str]:
    found = {}
    for path, entries in env.metadata().items():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                for rule, reason in entry["data"].items():
                    found[f"{path} {rule}"] = reason
    return found


def test_cdk_nag_passes_with_every_acknowledgement_reasoned(each_env):
    """Synthesis itself fails on an unacknowledged finding; the report must say success."""
    report = json.loads((each_env.outdir / "validation-report.json").read_text())
    by_plugin = {p["pluginName"]: p for p in report["pluginReports"]}
    assert by_plugin["AwsSolutions"]["conclusion"] == "success"
    assert by_plugin["AwsSolutions"]["violations"] == []
    acknowledged = _acknowledgements(each_env)
    ours = {k: v for k, v in acknowledged.items() if "AwsSolutions" in k}
    assert ours, "the AwsSolutions acknowledgements are recorded in the assembly"
    for rule, reason in ours.items():
        assert len(reason.split()) >= 8, f"{rule}: the reason must explain itself ({reason!r})"


def test_deletion_protection_is_only_waived_where_config_says_so(each_env):
    waived = [k for k in _acknowledgements(each_env) if "RDS10" in k]
    assert bool(waived) is (not each_env.config.deletion_protection)


def test_cfn_lint_finds_no_errors(each_env):
    paths = [str(p) for p in each_env.template_paths()]
    assert len(paths) == 2
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "json", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert not errors, json.dumps(errors, indent=1)[:4000]
    assert result.returncode in (0, 4, 8, 12), result.stderr  # 4 = warnings, 8 = informational


@pytest.mark.parametrize("which", ["stateful", "stateless"])
def test_no_hard_coded_physical_names(each_env, which):
    config = each_env.config
    allowed_secret_names = {
        config.jwt_secret_name,
        config.pepper_secret_name,
        config.stripe_secret_name,
        config.stripe_webhook_secret_name,
    }
    for logical_id, resource in each_env.templates[which]["Resources"].items():
        prop = NAME_PROPERTIES.get(resource["Type"])
        value = (resource.get("Properties") or {}).get(prop) if prop else None
        if value is None:
            continue
        if resource["Type"] == "AWS::SecretsManager::Secret":
            # The runtime addresses these by name; the names come from cdk.json per environment.
            assert value in allowed_secret_names, logical_id
            continue
        assert not isinstance(value, str), f"{logical_id} has the literal physical name {value!r}"


def test_an_unacknowledged_finding_fails_synthesis(tmp_path):
    """The gate itself: AwsSolutions as a validation plugin makes synth raise on a finding."""
    import aws_cdk as cdk
    from aws_cdk import aws_sns as sns
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe")
    sns.Topic(stack, "PlainTopic")  # no SSL-only policy: AwsSolutions-SNS3
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed.*AwsSolutions-SNS3"):
        app.synth()
