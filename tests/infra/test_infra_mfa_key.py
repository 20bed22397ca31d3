"""The MFA key (auth.secret_box): MFA_KEY_ID names the stateful stack's KMS key; the API role may seal with it."""

from __future__ import annotations

from chalicelib.core import contract
from chalicelib.core.contract import Env, SealedPurpose


def _key_export(env) -> str:
    """The export name under which the stateful stack publishes its KMS key's ARN."""
    stateful = env.templates["stateful"]
    keys = {name for name, r in stateful["Resources"].items() if r["Type"] == "AWS::KMS::Key"}
    assert len(keys) == 1, keys
    (key,) = keys
    exports = [
        output["Export"]["Name"]
        for output in stateful.get("Outputs", {}).values()
        if output.get("Value") == {"Fn::GetAtt": [key, "Arn"]} and "Export" in output
    ]
    assert len(exports) == 1, exports
    return exports[0]


def _api_role_statements(env) -> list[dict]:
    policies = env.resources("stateless", "AWS::IAM::Policy").values()
    return [
        statement
        for policy in policies
        if any(role.get("Ref", "").startswith("ApiApiRole") for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _as_set(value) -> set:
    return set(value) if isinstance(value, list) else {value}


def test_every_function_is_given_the_stateful_key_as_mfa_key_id(each_env):
    export = _key_export(each_env)
    functions = each_env.resources("stateless", "AWS::Serverless::Function")
    assert contract.API_HANDLER in functions
    for name, function in functions.items():
        assert function["Properties"]["Environment"]["Variables"][Env.MFA_KEY_ID] == {"Fn::ImportValue": export}, name


def test_the_api_role_may_encrypt_and_decrypt_with_the_key_only_for_the_sealing_purposes(each_env):
    export = _key_export(each_env)
    direct = [
        statement
        for statement in _api_role_statements(each_env)
        if _as_set(statement["Action"]) & {"kms:Encrypt", "kms:Decrypt"}
        and "kms:ViaService" not in statement.get("Condition", {}).get("StringEquals", {})
    ]
    assert len(direct) == 1, direct
    (grant,) = direct
    assert grant["Effect"] == "Allow"
    assert _as_set(grant["Action"]) == {"kms:Encrypt", "kms:Decrypt"}
    assert grant["Resource"] == {"Fn::ImportValue": export}
    condition = grant["Condition"]
    assert list(condition) == ["StringEquals"]
    assert _as_set(condition["StringEquals"]["kms:EncryptionContext:purpose"]) == {p.value for p in SealedPurpose}


def test_the_migrate_role_cannot_use_the_key_directly(each_env):
    policies = each_env.resources("stateless", "AWS::IAM::Policy").values()
    for policy in policies:
        if any(role.get("Ref", "").startswith("ApiMigrateRole") for role in policy["Properties"]["Roles"]):
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if _as_set(statement["Action"]) & {"kms:Encrypt", "kms:Decrypt"}:
                    assert "kms:ViaService" in statement["Condition"]["StringEquals"], statement
