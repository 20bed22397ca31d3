"""Payments in the stack (issue 14, part B): Stripe's two secrets, the webhook route's throttle, dunning's job and alarms."""

from __future__ import annotations

import pytest

from chalicelib.core import contract
from chalicelib.core.contract import Env
from stacks.constructs.api import STRIPE_WEBHOOK_THROTTLE_BURST, STRIPE_WEBHOOK_THROTTLE_RATE


def _stripe_secrets(env) -> dict[str, dict]:
    names = {env.config.stripe_secret_name, env.config.stripe_webhook_secret_name}
    found = {
        resource["Properties"]["Name"]: resource["Properties"]
        for resource in env.resources("stateful", "AWS::SecretsManager::Secret").values()
        if resource["Properties"].get("Name") in names
    }
    assert set(found) == names
    return found


def test_the_stripe_secrets_exist_encrypted_with_a_generated_placeholder(each_env):
    """Created by the stack, their values set after deploy: never a value in the template."""
    for name, props in _stripe_secrets(each_env).items():
        assert "KmsKeyId" in props, name
        assert "GenerateSecretString" in props and "SecretString" not in props, name
        assert "set after deploy" in props["Description"], name


def test_every_function_names_the_stripe_secrets_and_the_publishable_key(each_env):
    config = each_env.config
    for name, function in each_env.resources("stateless", "AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[Env.STRIPE_SECRET_ID] == config.stripe_secret_name, name
        assert variables[Env.STRIPE_WEBHOOK_SECRET_ID] == config.stripe_webhook_secret_name, name
        assert variables[Env.STRIPE_PUBLISHABLE_KEY] == config.stripe_publishable_key, name
        # The local stack's values never reach the cloud.
        assert not {Env.STRIPE_API_KEY, Env.STRIPE_WEBHOOK_SECRET, Env.STRIPE_API_BASE} & set(variables), name


def test_the_api_role_reads_the_stripe_secrets_and_cannot_write_them(each_env):
    statements = [
        statement
        for policy in each_env.resources("stateless", "AWS::IAM::Policy").values()
        if any(r.get("Ref", "").startswith("ApiApiRole") for r in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    reads = [
        resource
        for statement in statements
        if "secretsmanager:GetSecretValue" in statement["Action"]
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    ]
    exported = [resource["Fn::ImportValue"] for resource in reads]
    assert sum("StripeSecretKey" in name for name in exported) == 1
    assert sum("StripeWebhookSecret" in name for name in exported) == 1
    assert not any("secretsmanager:PutSecretValue" in statement["Action"] for statement in statements)


def test_the_public_stripe_webhook_has_its_own_lower_throttle(each_env):
    [api] = each_env.resources("stateless", "AWS::Serverless::Api").values()
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in api["Properties"]["MethodSettings"]}
    stage = settings[("/*", "*")]
    webhook = settings[("/~1webhooks~1stripe", "POST")]
    assert webhook["ThrottlingRateLimit"] == min(STRIPE_WEBHOOK_THROTTLE_RATE, stage["ThrottlingRateLimit"])
    assert webhook["ThrottlingBurstLimit"] == min(STRIPE_WEBHOOK_THROTTLE_BURST, stage["ThrottlingBurstLimit"])
    assert webhook["ThrottlingRateLimit"] < stage["ThrottlingRateLimit"]
    assert webhook["DataTraceEnabled"] is False
    # It is a route of the API (Chalice's Swagger body), as the path says.
    paths = api["Properties"]["DefinitionBody"]["paths"]
    assert "post" in paths["/webhooks/stripe"]


def test_the_dunning_job_runs_daily_after_the_billing_job(dev):
    schedules = {
        name: event["Properties"]["Schedule"]
        for name, function in dev.resources("stateless", "AWS::Serverless::Function").items()
        for event in (function["Properties"].get("Events") or {}).values()
        if event.get("Type") == "Schedule"
    }
    dunning = schedules[contract.PAYMENTS_DUNNING.logical_id]
    assert dunning == "cron(30 3 * * ? *)"
    billing = schedules[contract.BILLING_DAILY_JOB.logical_id]
    assert billing == "cron(0 3 * * ? *)", "dunning charges what the billing job finalized half an hour before"


def test_operators_hear_of_uncollectible_invoices_and_of_stripe_outages(each_env):
    alarms = [a["Properties"] for a in each_env.resources("stateless", "AWS::CloudWatch::Alarm").values()]
    [uncollectible] = [a for a in alarms if a.get("MetricName") == "InvoicesUncollectible"]
    assert uncollectible["Threshold"] == 1 and uncollectible["Namespace"] == "SaaSPlatform"
    stripe = [
        a
        for a in alarms
        if a.get("MetricName") == "DependencyDegraded" and {"Name": "dependency", "Value": "stripe"} in a["Dimensions"]
    ]
    assert len(stripe) == 1


@pytest.mark.parametrize("key", ["sk_live_secret", "pk_live_", "pk_prod_abc", "pk_test_a b"])
def test_only_a_publishable_key_or_nothing_is_accepted(key):
    from cdk_app.config import ConfigError, _from_context, cdk_json_context

    raw = dict(cdk_json_context()["saas:environments"]["dev"], stripe_publishable_key=key)
    with pytest.raises(ConfigError, match="stripe_publishable_key"):
        _from_context("dev", raw, network=None, python_version="3.12")
    assert _from_context(
        "dev", dict(raw, stripe_publishable_key="pk_test_abc123"), network=None, python_version="3.12"
    ).stripe_publishable_key
