"""Per-environment configuration: typed, frozen, validated, read from cdk.json context."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cdk_app.config import CONTEXT_KEY, ConfigError, EnvironmentConfig, cdk_json_context, load_environment


class _Node:
    def __init__(self, context: dict) -> None:
        self._context = context

    def try_get_context(self, key: str):
        return self._context.get(key)


def _context(**overrides) -> dict:
    context = cdk_json_context()
    if overrides:
        context = json.loads(json.dumps(context))
        for env, changes in overrides.items():
            context[CONTEXT_KEY][env].update(changes)
    return context


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_every_environment_loads_from_cdk_json(name):
    config = load_environment(_Node(_context()), name)
    assert isinstance(config, EnvironmentConfig)
    assert config.name == name
    assert config.stack_prefix == f"Saas-{name}"


def test_env_context_selects_the_environment_and_dev_is_the_default():
    assert load_environment(_Node(_context() | {"env": "staging"})).name == "staging"
    context = _context()
    context.pop("env", None)
    assert load_environment(_Node(context)).name == "dev"


def test_config_is_frozen():
    config = load_environment(_Node(_context()), "dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.aurora_max_acu = 64


def test_prod_retains_data_with_deletion_protection_and_dev_may_destroy():
    prod = load_environment(_Node(_context()), "prod")
    dev = load_environment(_Node(_context()), "dev")
    assert prod.retain_data and prod.deletion_protection
    assert prod.vpc is not None, "prod imports the platform's existing VPC"
    assert not dev.retain_data and dev.vpc is None


def test_prod_refuses_destroy_or_no_deletion_protection():
    with pytest.raises(ConfigError, match="prod must retain"):
        load_environment(_Node(_context(prod={"removal_policy": "destroy"})), "prod")
    with pytest.raises(ConfigError, match="prod must retain"):
        load_environment(_Node(_context(prod={"deletion_protection": False})), "prod")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"aurora_min_acu": 4, "aurora_max_acu": 2}, "aurora_min_acu"),
        ({"availability_zones": ["us-east-1a"]}, "two availability zones"),
        ({"alarm_email": "not-an-address"}, "alarm_email"),
        ({"portal_url": "http://portal.example.com"}, "portal_url"),
        ({"portal_url": "https://portal.example.com/"}, "portal_url"),
        ({"platform_name": ""}, "platform_name"),
        ({"platform_address": []}, "platform_address"),
        ({"platform_address": ["1 Example Street", ""]}, "platform_address"),
        ({"platform_address": ["two\nlines"]}, "platform_address"),
        ({"account": "12345"}, "12 digits"),
        ({"backup_retention_days": 36}, "backup_retention_days"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_inconsistent_config_is_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_environment(_Node(_context(dev=changes)), "dev")


def test_missing_key_and_unknown_environment_are_refused():
    context = _context()
    del context[CONTEXT_KEY]["dev"]["ses_sender"]
    with pytest.raises(ConfigError, match="missing keys"):
        load_environment(_Node(context), "dev")
    with pytest.raises(ConfigError, match="no environment"):
        load_environment(_Node(_context()), "qa")
