"""The runtime/infrastructure contract (``core.contract``) is what the runtime actually reads and defines.

``tests/infra`` checks the other side: the synthesized templates set these
variables, deploy these functions and grant these logins.
"""

from __future__ import annotations

import dataclasses

import pytest
from chalice.utils import to_cfn_resource_name

from chalicelib.core import contract
from chalicelib.core.contract import Env, Table
from chalicelib.core.settings import get_settings, reset_settings
from chalicelib.core.tables import ALL_TABLES

# Read by Powertools itself, not by Settings.
READ_BY_POWERTOOLS = {Env.POWERTOOLS_SERVICE_NAME}
# A value each variable accepts that differs from every default.
NON_DEFAULT = {
    Env.DB_PORT: "6543",
    Env.DB_POOL_MIN: "3",
    Env.DB_POOL_MAX: "30",
    Env.DB_IAM_AUTH: "1",
    Env.BCRYPT_COST: "5",
    Env.INVOICE_GRACE_DAYS: "9",
    Env.WEBHOOKS_ALLOW_LOCAL: "1",
    Env.USAGE_RETENTION_MONTHS: "36",
}


@pytest.fixture
def clean_environment(monkeypatch):
    for variable in Env:
        monkeypatch.delenv(variable, raising=False)
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.mark.parametrize("variable", sorted(set(Env) - READ_BY_POWERTOOLS))
def test_settings_read_every_variable_of_the_contract(clean_environment, variable):
    before = dataclasses.asdict(get_settings())
    clean_environment.setenv(variable, NON_DEFAULT.get(variable, "contract-probe"))
    reset_settings()
    after = dataclasses.asdict(get_settings())
    assert after != before, f"{variable} is in the contract but Settings ignores it"


def test_without_variables_the_runtime_addresses_the_local_stack(clean_environment):
    settings = get_settings()
    assert settings.stage == contract.LOCAL_STAGE
    assert (settings.cache_table, settings.sessions_table, settings.rate_limit_table) == tuple(
        contract.local_table_name(table) for table in (Table.CACHE, Table.SESSIONS, Table.RATE_LIMITS)
    )
    assert (settings.db_name, settings.db_app_user) == (contract.DATABASE_NAME, contract.APP_LOGIN)


def test_the_table_specs_are_the_contract_tables():
    assert {spec.logical_name for spec in ALL_TABLES} == set(Table)
    for table in Table:
        assert table.variable in Env


def test_the_migration_runner_sets_the_password_of_the_contract_login():
    """roles.sql creates the login and the runner sets its password; the stacks grant and name it by the contract."""
    from chalicelib.core import migrations

    assert migrations.APP_LOGIN == contract.APP_LOGIN
    assert f"CREATE ROLE {contract.APP_LOGIN} LOGIN" in (migrations.MIGRATIONS_DIR / "roles.sql").read_text()


def test_deployed_variables_are_contract_variables_and_the_migrate_ones_are_apart():
    assert contract.DEPLOYED_ENVIRONMENT.issubset(Env)
    assert contract.MIGRATE_ONLY_ENVIRONMENT.issubset(Env)
    assert not contract.DEPLOYED_ENVIRONMENT & contract.MIGRATE_ONLY_ENVIRONMENT
    assert {table.variable for table in Table} <= contract.DEPLOYED_ENVIRONMENT


@pytest.mark.parametrize("function", contract.FUNCTIONS, ids=lambda function: function.name)
def test_function_logical_ids_are_the_ones_chalice_gives(function):
    assert function.logical_id == to_cfn_resource_name(function.name)
