"""Assemble one environment's stacks on an app (shared by ``infra.py`` and the tests)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cdk_app.config import EnvironmentConfig
from stacks.stateful_stack import StatefulStack
from stacks.stateless_stack import StatelessStack


@dataclass(frozen=True, slots=True)
class EnvironmentStacks:
    stateful: StatefulStack
    stateless: StatelessStack


def build(app: cdk.App, config: EnvironmentConfig, *, nag: bool = True) -> EnvironmentStacks:
    """Add ``Saas-<env>-Stateful`` and ``Saas-<env>-Stateless`` to ``app``; cdk-nag AwsSolutions gates synth.

    Refuses (``ConfigError``) an environment whose network ids are still the
    committed placeholders: that template could only fail in CloudFormation.
    """
    config.require_deployable()
    env = cdk.Environment(account=config.account, region=config.region)
    stateful = StatefulStack(
        app,
        f"{config.stack_prefix}-Stateful",
        config=config,
        env=env,
        termination_protection=config.deletion_protection,
        description=f"SaaS platform data, keys and network ({config.name})",
    )
    stateless = StatelessStack(
        app,
        f"{config.stack_prefix}-Stateless",
        config=config,
        key=stateful.encryption.key,
        network=stateful.network,
        database=stateful.database,
        secrets=stateful.secrets,
        tables=stateful.tables,
        env=env,
        description=f"SaaS platform API, jobs, migrations and monitoring ({config.name})",
    )
    stateless.add_stack_dependency(stateful)
    for stack in (stateful, stateless):
        for key, value in (("project", "saas-platform"), ("environment", config.name)):
            # DBProxyTargetGroup has no Tags property, though CDK believes it does.
            cdk.Tags.of(stack).add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return EnvironmentStacks(stateful=stateful, stateless=stateless)
